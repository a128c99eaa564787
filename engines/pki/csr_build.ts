/** PKCS#10 requests for this mount's own intermediate key (intermediate/generate). */
import * as der from "./der.ts";
import type { Bytes } from "./der.ts";
import type { SignatureScheme } from "./keys.ts";
import { toPem } from "./pem.ts";

const OID_EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

/** A signed CSR for `subject` and `spki`, asking for `extensions` (encoded Extension DERs). */
export async function buildCsr(
  subject: Bytes,
  spki: Bytes,
  extensions: Bytes[],
  key: CryptoKey,
  scheme: SignatureScheme,
): Promise<string> {
  const attributes = extensions.length
    ? der.sequence(
      der.oid(OID_EXTENSION_REQUEST),
      der.set1(der.sequence(...extensions)),
    )
    : new Uint8Array();
  const info = der.sequence(der.smallInteger(0), subject, spki, der.explicit(0, attributes));
  const sig = await crypto.subtle.sign(scheme.params, key, info);
  const csr = der.sequence(info, scheme.algorithmId, der.bitString(scheme.encode(sig)));
  return toPem("CERTIFICATE REQUEST", csr);
}
