/**
 * Shared by the identity/apps/mTLS tests: client keys and CSRs made with WebCrypto and
 * @peculiar/x509 (so a CSR can ask for names it must not get), app registration and issuance
 * through the real HTTP API, and an mTLS fetch client.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { Buffer } from "node:buffer";
import { call, type Json, type TestCore } from "../helpers/test_core.ts";

export type KeyAlg = "p256" | "p384" | "ed25519" | "rsa";

const ALGS: Record<
  KeyAlg,
  { gen: EcKeyGenParams | RsaHashedKeyGenParams | Algorithm; sign: Algorithm | EcdsaParams }
> = {
  p256: {
    gen: { name: "ECDSA", namedCurve: "P-256" } as EcKeyGenParams,
    sign: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams,
  },
  p384: {
    gen: { name: "ECDSA", namedCurve: "P-384" } as EcKeyGenParams,
    sign: { name: "ECDSA", hash: "SHA-384" } as EcdsaParams,
  },
  ed25519: { gen: { name: "Ed25519" }, sign: { name: "Ed25519" } },
  rsa: {
    gen: {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    } as RsaHashedKeyGenParams,
    sign: { name: "RSASSA-PKCS1-v1_5" },
  },
};

export interface ClientKey {
  alg: KeyAlg;
  keys: CryptoKeyPair;
  keyPem: string;
  csrPem: string;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64").match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** A fresh key and a CSR for it; `uri` lets the CSR ask for an identity it must not get. */
export async function clientKey(
  o: { alg?: KeyAlg; uri?: string; cn?: string } = {},
): Promise<ClientKey> {
  const alg = o.alg ?? "p256";
  const a = ALGS[alg];
  const keys = await crypto.subtle.generateKey(a.gen, true, ["sign", "verify"]) as CryptoKeyPair;
  const extensions: x509.Extension[] = [];
  if (o.uri) {
    extensions.push(new x509.SubjectAlternativeNameExtension([{ type: "url", value: o.uri }]));
  }
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${o.cn ?? "client"}`,
    keys,
    signingAlgorithm: a.sign,
    extensions,
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { alg, keys, keyPem: pem("PRIVATE KEY", pkcs8), csrPem: csr.toString("pem") };
}

/** The same CSR with one bit of its signature flipped. */
export function tamperedCsr(csrPem: string): string {
  const der = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  der[der.length - 3]! ^= 0x01;
  return pem("CERTIFICATE REQUEST", der.buffer.slice(der.byteOffset, der.byteOffset + der.length));
}

/** base64 signature by `k` over `message` (ECDSA as raw r‖s, which WebCrypto produces). */
export async function signMessage(k: ClientKey, message: string): Promise<string> {
  const sig = await crypto.subtle.sign(
    ALGS[k.alg].sign,
    k.keys.privateKey,
    new TextEncoder().encode(message),
  );
  return Buffer.from(sig).toString("base64");
}

export { call } from "../helpers/test_core.ts";

export async function registerApp(t: TestCore, name: string, body: Json = {}): Promise<string> {
  return (await call(t, "POST", "apps", { name, ...body })).data.id;
}

export async function bootstrapToken(t: TestCore, id: string, ttl?: string): Promise<string> {
  return (await call(t, "POST", `apps/${id}/bootstrap-token`, ttl ? { ttl } : {})).data
    .bootstrap_token;
}

export interface IssuedClient extends ClientKey {
  cert: string;
  serial: string;
  ca: string;
}

/** Registers nothing: bootstraps `id` and gets it a certificate for a fresh key. */
export async function issueApp(
  t: TestCore,
  id: string,
  alg: KeyAlg = "p256",
): Promise<IssuedClient> {
  const k = await clientKey({ alg });
  const token = await bootstrapToken(t, id);
  const d =
    (await call(t, "POST", "pki/app/issue", { bootstrap_token: token, csr: k.csrPem }, 200, null))
      .data;
  return { ...k, cert: d.certificate, serial: d.serial_number, ca: d.issuing_ca };
}

/** fetch over mTLS; rejects when the handshake fails. */
export async function mtlsFetch(
  url: string,
  tls: { ca: string; cert?: string; key?: string },
  init: RequestInit = {},
): Promise<{ status: number; body: Json }> {
  const client = Deno.createHttpClient({
    caCerts: [tls.ca],
    ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
  });
  try {
    const res = await fetch(url, { ...init, client });
    const text = await res.text();
    const json = (res.headers.get("content-type") ?? "").includes("json");
    return { status: res.status, body: json && text ? JSON.parse(text) : text };
  } finally {
    client.close();
  }
}

/** Runs `openssl verify -purpose <purpose>` with the CA as the only trust anchor. */
export async function opensslVerify(
  ca: string,
  leaf: string,
  purpose: string,
): Promise<{ ok: boolean; out: string }> {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-verify-" });
  try {
    await Deno.writeTextFile(`${dir}/ca.pem`, ca);
    await Deno.writeTextFile(`${dir}/leaf.pem`, leaf);
    const out = await new Deno.Command("openssl", {
      args: ["verify", "-purpose", purpose, "-CAfile", `${dir}/ca.pem`, `${dir}/leaf.pem`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { ok: out.success, out: text };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
