/**
 * What relying parties fetch without a token, as in Vault: the CA certificate and chain, and the
 * CRL. `ca` and `crl` answer DER, their `/pem` variants and `ca_chain` PEM text, JSON routes
 * `{certificate}` (PEM).
 */
import { type EngineResponse, NotFound, type PathSpec } from "../sdk.ts";
import type { PkiBackend } from "./backend.ts";
import { CRL_VALIDITY_MS, rebuildCrl } from "./crl.ts";
import { pemBlocks } from "./pem.ts";
import { derRaw, pemRaw } from "./response.ts";
import { PkiStore } from "./store.ts";

const PEM_CHAIN = "application/pem-certificate-chain";

async function caPem(b: PkiBackend): Promise<string> {
  const ca = await b.ca.get();
  if (!ca) throw new NotFound();
  return ca.record.certificate;
}

async function caDer(b: PkiBackend): Promise<Uint8Array<ArrayBuffer>> {
  const ca = await b.ca.get();
  if (!ca) throw new NotFound();
  return new Uint8Array(ca.cert.rawData);
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

async function crlDer(b: PkiBackend): Promise<Uint8Array<ArrayBuffer>> {
  const [block] = pemBlocks(await crlPem(b));
  if (!block) throw new Error("the stored CRL holds no PEM block");
  return block.der;
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
    fetchPath("ca", async () => derRaw(await caDer(b), "application/pkix-cert")),
    fetchPath("ca/pem", async () => pemRaw(await caPem(b), PEM_CHAIN)),
    fetchPath("cert/ca", async () => certJson(await caPem(b))),
    fetchPath("ca_chain", async () => pemRaw(await chainPem(b), PEM_CHAIN)),
    fetchPath("cert/ca_chain", async () => {
      const chain = await chainPem(b);
      return { data: { certificate: chain, ca_chain: chain } };
    }),
    fetchPath("crl", async () => derRaw(await crlDer(b), "application/pkix-crl")),
    fetchPath("crl/pem", async () => pemRaw(await crlPem(b), "application/x-pem-file")),
    fetchPath("cert/crl", async () => certJson(await crlPem(b))),
  ];
}
