/**
 * The little X.509 the agent needs, without @peculiar/x509 (which alone adds ~20 MB to a
 * process): a P-256 CSR for a fresh key, and a certificate's serial and validity. Anything
 * security-relevant about a certificate (chain, signature, identity) is checked by core and by
 * the TLS handshake, not here.
 */
import * as der from "./der.ts";
import type { Bytes } from "./der.ts";

const OID_CN = "2.5.4.3";
const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";

export function toPem(label: string, bytes: Uint8Array): string {
  const b64 = btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}

/** The first PEM block with `label`, decoded. */
export function fromPem(pem: string, label: string): Bytes {
  const m = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`).exec(pem);
  if (!m) throw new Error(`no ${label} in PEM`);
  const bin = atob(m[1]!.replace(/\s+/g, ""));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** WebCrypto's ECDSA signature is r‖s; X.509 wants SEQUENCE { INTEGER r, INTEGER s }. */
function ecdsaDer(raw: Uint8Array): Bytes {
  const half = raw.length / 2;
  return der.sequence(
    der.unsignedInteger(raw.subarray(0, half)),
    der.unsignedInteger(raw.subarray(half)),
  );
}

/** A PKCS#10 request with subject CN=`cn` for an ECDSA P-256 key pair, signed with SHA-256. */
export async function p256Csr(cn: string, keys: CryptoKeyPair): Promise<string> {
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keys.publicKey));
  const subject = der.sequence(der.set1(der.sequence(der.oid(OID_CN), der.utf8String(cn))));
  const info = der.sequence(der.smallInteger(0), subject, spki, der.explicit(0, new Uint8Array()));
  const sig = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, info),
  );
  const csr = der.sequence(
    info,
    der.sequence(der.oid(OID_ECDSA_SHA256)),
    der.bitString(ecdsaDer(sig)),
  );
  return toPem("CERTIFICATE REQUEST", csr);
}

function parseTime(buf: Bytes, n: der.Node): number {
  const s = new TextDecoder().decode(der.content(buf, n));
  const full = n.tag === 0x17 ? (Number(s.slice(0, 2)) >= 50 ? "19" : "20") + s : s;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(full);
  if (!m) throw new Error("unsupported certificate time");
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/** Serial (lower-case hex, no leading zero byte) and validity (epoch ms) of a PEM certificate. */
export function certInfo(pem: string): { serial: string; notBefore: number; notAfter: number } {
  const buf = fromPem(pem, "CERTIFICATE");
  const [tbs] = der.children(buf, der.root(buf));
  const f = der.children(buf, tbs!);
  const i = f[0]!.tag === 0xa0 ? 1 : 0; // explicit version present
  let serial = der.content(buf, f[i]!);
  if (serial.length > 1 && serial[0] === 0) serial = serial.subarray(1);
  const [nb, na] = der.children(buf, f[i + 3]!);
  return {
    serial: Array.from(serial, (b) => b.toString(16).padStart(2, "0")).join(""),
    notBefore: parseTime(buf, nb!),
    notAfter: parseTime(buf, na!),
  };
}
