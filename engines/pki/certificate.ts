/** Signing a TBSCertificate with a CA key, and reading the raw pieces back out of a certificate. */
import { createHash } from "node:crypto";
import * as der from "./der.ts";
import type { Bytes } from "./der.ts";
import type { SignatureScheme } from "./keys.ts";

/** Everything a certificate needs from whoever signs it. */
export interface Issuer {
  /** The issuer's subject Name, byte for byte: path builders (rustls) compare it exactly. */
  name: Bytes;
  /** The issuer's subject key identifier, for the AKI of what it signs. */
  keyId: Bytes;
  key: CryptoKey;
  scheme: SignatureScheme;
}

export interface CertFields {
  serial: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  spki: Uint8Array;
  /** Encoded extensions; nulls (an extension that does not apply) are skipped. */
  extensions: (Uint8Array | null)[];
}

const VERSION_3 = der.explicit(0, der.smallInteger(2));

export async function signCertificate(f: CertFields, issuer: Issuer): Promise<Bytes> {
  const exts = f.extensions.filter((e): e is Uint8Array => e !== null);
  const tbs = der.sequence(
    VERSION_3,
    der.unsignedInteger(f.serial),
    issuer.scheme.algorithmId,
    issuer.name,
    der.sequence(der.time(f.notBefore), der.time(f.notAfter)),
    f.subject,
    f.spki,
    ...(exts.length ? [der.explicit(3, der.sequence(...exts))] : []),
  );
  const sig = await crypto.subtle.sign(issuer.scheme.params, issuer.key, tbs);
  return der.sequence(tbs, issuer.scheme.algorithmId, der.bitString(issuer.scheme.encode(sig)));
}

/**
 * RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. node:crypto hashes in-thread
 * (~4 µs); subtle.digest is an async op costing ~70 µs, a tenth of a leaf's budget.
 */
export function keyIdentifier(spki: Bytes): Bytes {
  const [, key] = der.children(spki, der.root(spki));
  const bits = der.content(spki, key!).subarray(1);
  return new Uint8Array(createHash("sha1").update(bits).digest());
}

export interface CertParts {
  /** INTEGER content with any sign byte stripped. */
  serial: Bytes;
  issuer: Bytes;
  subject: Bytes;
  spki: Bytes;
}

/** Raw fields of a DER certificate; throws RangeError when it is not one. */
export function certParts(cert: Bytes): CertParts {
  const [tbsNode] = der.children(cert, der.root(cert));
  if (!tbsNode || tbsNode.tag !== 0x30) throw new RangeError("Not a certificate");
  const f = der.children(cert, tbsNode);
  const at = f[0]?.tag === 0xa0 ? 1 : 0;
  const [serial, , issuer, , subject, spki] = f.slice(at);
  if (!serial || !issuer || !subject || !spki) throw new RangeError("Not a certificate");
  let s = der.content(cert, serial);
  while (s.length > 1 && s[0] === 0) s = s.subarray(1);
  return {
    serial: s,
    issuer: der.raw(cert, issuer),
    subject: der.raw(cert, subject),
    spki: der.raw(cert, spki),
  };
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
