/**
 * What relying parties fetch without a token, as in Vault: the CA certificate and chain, and the
 * CRL. Raw routes answer PEM text (the envelope cannot carry DER), JSON routes `{certificate}`.
 */
import { type EngineResponse, NotFound, type PathSpec } from "../sdk.ts";
import type { PkiBackend } from "./backend.ts";
import { CRL_VALIDITY_MS, rebuildCrl } from "./crl.ts";
import { PkiStore } from "./store.ts";

const PEM_CHAIN = "application/pem-certificate-chain";

async function caPem(b: PkiBackend): Promise<string> {
  const ca = await b.ca.get();
  if (!ca) throw new NotFound();
  return ca.record.certificate;
}

async function chainPem(b: PkiBackend): Promise<string> {
  const ca = await b.ca.get();
  if (!ca) throw new NotFound();
  return ca.chain.join("\n") + "\n";
}

/**
 * The stored CRL, re-signed once past half its validity so a quiet mount never serves an expired
 * one.
 */
async function crlPem(b: PkiBackend): Promise<string> {
  const crl = await b.store.crl();
  if (crl && crl.next_update - b.now() > CRL_VALIDITY_MS / 2) return crl.pem;
  const ca = await b.ca.get();
  if (!ca) throw new NotFound();
  return b.lock.run(async () => {
    const again = await b.store.crl();
    if (again && again.next_update - b.now() > CRL_VALIDITY_MS / 2) return again.pem;
    const fresh = await rebuildCrl(b.store, ca, b.now());
    await b.store.commit([PkiStore.putCrl(fresh)]);
    return fresh.pem;
  });
}

function raw(body: string, contentType: string): EngineResponse {
  return { raw: { body: body.endsWith("\n") ? body : body + "\n", contentType } };
}

function certJson(certificate: string, extra: Record<string, unknown> = {}): EngineResponse {
  return {
    data: { certificate, revocation_time: 0, revocation_time_rfc3339: "", ...extra },
  };
}

function fetchPath(pattern: string, read: () => Promise<EngineResponse>): PathSpec {
  return { pattern, unauthenticated: true, operations: { read } };
}

export function fetchPaths(b: PkiBackend): PathSpec[] {
  return [
    fetchPath("ca", async () => raw(await caPem(b), "application/pkix-cert")),
    fetchPath("ca/pem", async () => raw(await caPem(b), PEM_CHAIN)),
    fetchPath("cert/ca", async () => certJson(await caPem(b))),
    fetchPath("ca_chain", async () => raw(await chainPem(b), PEM_CHAIN)),
    fetchPath("cert/ca_chain", async () => {
      const chain = await chainPem(b);
      return { data: { certificate: chain, ca_chain: chain } };
    }),
    fetchPath("crl", async () => raw(await crlPem(b), "application/pkix-crl")),
    fetchPath("crl/pem", async () => raw(await crlPem(b), "application/x-pem-file")),
    fetchPath("cert/crl", async () => certJson(await crlPem(b))),
  ];
}
