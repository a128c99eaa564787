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

export class BootstrapError extends Error {
  /** Core no longer accepts the login token this step used: log in again. */
  tokenDead = false;
}

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

/**
 * The AppRole login's token, kept (and stored, 0600) until the certificate is issued: a
 * single-use secret-id is spent by the login, so a later step that fails must be retried with
 * this token, as Vault Agent's auto-auth keeps its token, not by logging in again.
 */
export interface LoginToken {
  token: string;
  /** Unix ms; 0 = no expiry. */
  expiresAt: number;
}

const LOGIN_TOKEN = "login-token.json";

export async function loadLoginToken(stateDir: string): Promise<LoginToken | null> {
  try {
    const t = JSON.parse(await Deno.readTextFile(`${dir(stateDir)}/${LOGIN_TOKEN}`));
    if (typeof t?.token !== "string" || typeof t?.expiresAt !== "number") return null;
    return { token: t.token, expiresAt: t.expiresAt };
  } catch {
    return null;
  }
}

export async function saveLoginToken(stateDir: string, t: LoginToken): Promise<void> {
  await Deno.mkdir(dir(stateDir), { recursive: true, mode: 0o700 });
  await writeFileAtomic(`${dir(stateDir)}/${LOGIN_TOKEN}`, JSON.stringify(t), { mode: 0o600 });
}

export async function forgetLoginToken(stateDir: string): Promise<void> {
  await Deno.remove(`${dir(stateDir)}/${LOGIN_TOKEN}`).catch(() => {});
}

/** Still worth presenting: unexpired with a minute to spare for the remaining steps. */
export function loginTokenUsable(t: LoginToken, now: number): boolean {
  return t.expiresAt === 0 || now < t.expiresAt - 60_000;
}

/** Core's error text (messages like "invalid credentials"; never a secret), for the log. */
function coreErrors(body: unknown): string {
  const errs = (body as { errors?: unknown } | null)?.errors;
  return Array.isArray(errs) ? errs.filter((e) => typeof e === "string").join("; ") : "";
}

function failed(step: string, status: number, body: unknown): BootstrapError {
  const errs = coreErrors(body);
  return new BootstrapError(`${step} failed (status ${status})${errs ? `: ${errs}` : ""}`);
}

/** (Unwrap →) AppRole login. Spends the secret-id (or wrapping token) when it is single-use. */
export async function login(b: BootstrapInput, now: number): Promise<LoginToken> {
  let secretId = b.secretId;
  if (b.wrapped) {
    const r = await b.client.request("POST", "sys/wrapping/unwrap", undefined, {
      "x-vault-token": secretId,
    });
    const data = (r.body as { data?: { secret_id?: string } } | null)?.data;
    if (r.status !== 200 || !data?.secret_id) {
      throw failed("unwrapping the secret-id", r.status, r.body);
    }
    secretId = data.secret_id;
  }
  const mount = b.approleMount ?? "approle";
  const r = await b.client.request("POST", `auth/${mount}/login`, {
    role_id: b.roleId,
    secret_id: secretId,
  });
  const auth = (r.body as { auth?: { client_token?: string; lease_duration?: number } } | null)
    ?.auth;
  if (r.status !== 200 || !auth?.client_token) throw failed("AppRole login", r.status, r.body);
  const ttl = Number(auth.lease_duration ?? 0);
  return { token: auth.client_token, expiresAt: ttl > 0 ? now + ttl * 1000 : 0 };
}

/**
 * The certificate step of a bootstrap, with the login's token: local key → CSR →
 * `pki/agent/issue` → the agent CA. `tokenDead` is set on failure when core no longer accepts
 * the token (it expired, or was revoked), so the caller logs in again instead of retrying it.
 */
export async function issueIdentity(
  client: ApiClient,
  agentId: string,
  token: string,
): Promise<Identity> {
  const { keyPem, csrPem } = await newKeyAndCsr(agentId);
  const issued = await client.request(
    "POST",
    "pki/agent/issue",
    { agent_id: agentId, csr: csrPem },
    { "x-vault-token": token },
  );
  const data = (issued.body as { data?: IssuedCert & { issuing_ca?: string } } | null)?.data;
  if (issued.status !== 200 || !data?.certificate) {
    const e = failed("certificate issue", issued.status, issued.body);
    // 403 is also core's answer to an unknown token: ask which it is.
    if (issued.status === 401 || issued.status === 403) {
      const self = await client.request("GET", "auth/token/lookup-self", undefined, {
        "x-vault-token": token,
      });
      if (self.status === 401 || self.status === 403) e.tokenDead = true;
    }
    throw e;
  }
  const ca = await client.request("GET", "sys/agent/ca");
  const caPem = typeof ca.body === "string" ? ca.body : data.issuing_ca ?? "";
  if (!caPem.includes("BEGIN CERTIFICATE")) {
    throw new BootstrapError("could not fetch the agent CA");
  }
  return identityFrom(keyPem, data, caPem);
}

/** The login token has done its job (or will never be used again): don't leave it alive. */
export async function revokeLoginToken(client: ApiClient, token: string): Promise<boolean> {
  const r = await client.request("POST", "auth/token/revoke-self", undefined, {
    "x-vault-token": token,
  }).catch(() => null);
  return r !== null && r.status < 300;
}
