/**
 * The agent's certificate identity: a P-256 key generated on the device (it never leaves),
 * a CSR, and the certificate core's identity CA signs for it. Stored in `state_dir/identity/`
 * with mode 0600. On restart a still-valid certificate is reused instead of logging in again;
 * renewal is due at ~70 % of the lifetime.
 */
import { ApiClient } from "../lib/client.ts";
import { certInfo, p256Csr, toPem } from "../lib/x509_lite.ts";
import { writeFileAtomic } from "./render/atomic_file.ts";

export interface Identity {
  certPem: string;
  keyPem: string;
  /** The identity CA: trusts core's agent listener and anchors our own chain. */
  caPem: string;
  serial: string;
  notBefore: number;
  notAfter: number;
}

const dir = (stateDir: string) => `${stateDir}/identity`;
const CERT = "agent.crt";
const KEY = "agent.key";
const CA = "ca.pem";

export class BootstrapError extends Error {}

export function describeCert(
  certPem: string,
): { serial: string; notBefore: number; notAfter: number } {
  return certInfo(certPem);
}

/** A new key pair and a CSR for it; the private key is returned as PKCS#8 PEM for storage. */
export async function newKeyAndCsr(agentId: string): Promise<{ keyPem: string; csrPem: string }> {
  const keys = await crypto.subtle.generateKey(
    { name: "ECDSA", namedCurve: "P-256" },
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return { keyPem: toPem("PRIVATE KEY", pkcs8), csrPem: await p256Csr(agentId, keys) };
}

export async function loadIdentity(stateDir: string): Promise<Identity | null> {
  try {
    const [certPem, keyPem, caPem] = await Promise.all(
      [CERT, KEY, CA].map((f) => Deno.readTextFile(`${dir(stateDir)}/${f}`)),
    );
    return { certPem, keyPem, caPem, ...describeCert(certPem) };
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

export async function saveIdentity(stateDir: string, id: Identity): Promise<void> {
  await Deno.mkdir(dir(stateDir), { recursive: true, mode: 0o700 });
  // Key first: a certificate on disk without its key would look valid and fail at connect.
  await writeFileAtomic(`${dir(stateDir)}/${KEY}`, id.keyPem, { mode: 0o600 });
  await writeFileAtomic(`${dir(stateDir)}/${CA}`, id.caPem, { mode: 0o600 });
  await writeFileAtomic(`${dir(stateDir)}/${CERT}`, id.certPem, { mode: 0o600 });
}

/** Valid now with some life left; otherwise the agent must bootstrap again. */
export function usable(id: Identity, now: number): boolean {
  return id.notBefore <= now + 60_000 && now < id.notAfter - 60_000;
}

export function renewalDue(id: Identity, now: number): boolean {
  return now >= id.notBefore + (id.notAfter - id.notBefore) * 0.7;
}

/** What `pki/agent/issue` (or `cert:renew` over the link) returns. */
export interface IssuedCert {
  certificate: string;
  issuing_ca?: string;
  ca_chain?: string[];
}

export function identityFrom(keyPem: string, issued: IssuedCert, caPem: string): Identity {
  const chain = (issued.ca_chain ?? []).join("\n");
  // Present the leaf with any intermediates so the listener can build the chain.
  const certPem = issued.certificate.trim() + "\n" +
    (chain && !issued.ca_chain?.includes(caPem.trim()) ? chain.trim() + "\n" : "");
  return { certPem, keyPem, caPem, ...describeCert(issued.certificate) };
}

export interface BootstrapInput {
  client: ApiClient;
  agentId: string;
  roleId: string;
  secretId: string;
  /** Set when the secret-id file holds a response-wrapping token instead of the secret-id. */
  wrapped: boolean;
  approleMount?: string;
}

/** AppRole login → local key → CSR → `pki/agent/issue`. Fails with a message naming the step. */
export async function bootstrap(b: BootstrapInput): Promise<Identity> {
  let secretId = b.secretId;
  if (b.wrapped) {
    const r = await b.client.request("POST", "sys/wrapping/unwrap", undefined, {
      "x-vault-token": secretId,
    });
    const data = (r.body as { data?: { secret_id?: string } } | null)?.data;
    if (r.status !== 200 || !data?.secret_id) {
      throw new BootstrapError(`unwrapping the secret-id failed (status ${r.status})`);
    }
    secretId = data.secret_id;
  }
  const mount = b.approleMount ?? "approle";
  const login = await b.client.request("POST", `auth/${mount}/login`, {
    role_id: b.roleId,
    secret_id: secretId,
  });
  const token = (login.body as { auth?: { client_token?: string } } | null)?.auth?.client_token;
  if (login.status !== 200 || !token) {
    throw new BootstrapError(`AppRole login failed (status ${login.status})`);
  }
  const { keyPem, csrPem } = await newKeyAndCsr(b.agentId);
  const issued = await b.client.request(
    "POST",
    "pki/agent/issue",
    { agent_id: b.agentId, csr: csrPem },
    { "x-vault-token": token },
  );
  const data = (issued.body as { data?: IssuedCert & { issuing_ca?: string } } | null)?.data;
  if (issued.status !== 200 || !data?.certificate) {
    const errs = (issued.body as { errors?: string[] } | null)?.errors?.join("; ") ?? "";
    throw new BootstrapError(`certificate issue failed (status ${issued.status}) ${errs}`.trim());
  }
  const ca = await b.client.request("GET", "sys/agent/ca");
  const caPem = typeof ca.body === "string" ? ca.body : data.issuing_ca ?? "";
  if (!caPem.includes("BEGIN CERTIFICATE")) {
    throw new BootstrapError("could not fetch the agent CA");
  }
  // The login token has done its job; don't leave it alive.
  await b.client.request("POST", "auth/token/revoke-self", undefined, { "x-vault-token": token })
    .catch(() => {});
  return identityFrom(keyPem, data, caPem);
}
