/** The response shapes Vault clients read: certificates in `format`, the chain, the key once. */
import { type EngineResponse, v } from "../sdk.ts";
import type { LoadedCa } from "./ca.ts";
import type { IssuedCert } from "./leaf.ts";
import { certsFromPem } from "./pem.ts";

export const certFormat = v.optional(
  v.picklist(["", "pem", "der", "pem_bundle"], 'must be "pem", "der" or "pem_bundle"'),
);
export const privateKeyFormat = v.optional(
  v.picklist(["", "der", "pem", "pkcs8"], 'must be "der", "pem" or "pkcs8"'),
);

export type CertFormat = "" | "pem" | "der" | "pem_bundle";

function derOf(pem: string): string {
  return certsFromPem(pem)[0]!.toBase64();
}

/**
 * `{certificate, issuing_ca, ca_chain, serial_number, expiration}` plus `private_key` and
 * `private_key_type` when the key was generated here.
 */
export function certData(
  ca: LoadedCa,
  cert: IssuedCert,
  format: CertFormat | undefined,
  key?: { text: string; type: string },
): Record<string, unknown> {
  const data: Record<string, unknown> = {
    serial_number: cert.serial,
    expiration: cert.expiration,
  };
  if (format === "der") {
    data.certificate = cert.der.toBase64();
    data.issuing_ca = derOf(ca.chain[0]!);
    data.ca_chain = ca.chain.map(derOf);
  } else {
    data.certificate = format === "pem_bundle"
      ? [...(key ? [key.text] : []), cert.pem, ca.chain[0]!].join("\n")
      : cert.pem;
    data.issuing_ca = ca.chain[0];
    data.ca_chain = ca.chain;
  }
  if (key) {
    data.private_key = key.text;
    data.private_key_type = key.type;
  }
  return data;
}

/** Vault's PEM routes (`ca/pem`, `crl/pem`, `cert/:serial/raw/pem`): the text, newline-ended. */
export function pemRaw(pem: string, contentType: string): EngineResponse {
  return { raw: { body: pem.endsWith("\n") ? pem : pem + "\n", contentType } };
}

/**
 * Vault's binary routes (`ca`, `crl`, `cert/:serial/raw`): the DER bytes themselves, which is
 * what `curl -o ca.der` and Go's x509.ParseCertificate expect.
 */
export function derRaw(der: Uint8Array<ArrayBuffer>, contentType: string): EngineResponse {
  return { raw: { body: der, contentType } };
}
