/** X.509 v3 extensions as DER, and the Vault names for key usages and extended key usages. */
import { BadRequest, fields } from "../sdk.ts";
import * as der from "./der.ts";
import type { Bytes } from "./der.ts";

export function extension(oid: string, critical: boolean, value: Uint8Array): Bytes {
  return critical
    ? der.sequence(der.oid(oid), der.TRUE, der.octetString(value))
    : der.sequence(der.oid(oid), der.octetString(value));
}

/** Critical, as RFC 5280 requires for CAs; a leaf's is an empty SEQUENCE (cA defaults FALSE). */
export function basicConstraints(ca: boolean, pathLength?: number): Bytes {
  const body = ca
    ? der.sequence(der.TRUE, ...(pathLength === undefined ? [] : [der.smallInteger(pathLength)]))
    : der.sequence();
  return extension("2.5.29.19", true, body);
}

/** Bit positions from RFC 5280 §4.2.1.3, keyed by Vault's names in lower case. */
export const KEY_USAGE_BITS: Record<string, number> = {
  digitalsignature: 0,
  contentcommitment: 1,
  nonrepudiation: 1,
  keyencipherment: 2,
  dataencipherment: 3,
  keyagreement: 4,
  certsign: 5,
  crlsign: 6,
  encipheronly: 7,
  decipheronly: 8,
};

export function keyUsageBits(names: string[]): number {
  let bits = 0;
  for (const n of names) {
    const bit = KEY_USAGE_BITS[n.toLowerCase().replace(/^keyusage/, "")];
    if (bit === undefined) throw new BadRequest(`unknown key_usage ${fields.quoted(n)}`);
    bits |= 1 << bit;
  }
  return bits;
}

/** Critical KeyUsage; the BIT STRING is minimal, as DER requires for named bits. */
export function keyUsage(bits: number): Bytes | null {
  if (bits === 0) return null;
  const highest = 31 - Math.clz32(bits);
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (let i = 0; i <= highest; i++) if (bits & (1 << i)) bytes[i >> 3]! |= 0x80 >> (i & 7);
  return extension("2.5.29.15", true, der.bitString(bytes, 7 - (highest & 7)));
}

export const EXT_KEY_USAGE_OIDS: Record<string, string> = {
  any: "2.5.29.37.0",
  serverauth: "1.3.6.1.5.5.7.3.1",
  clientauth: "1.3.6.1.5.5.7.3.2",
  codesigning: "1.3.6.1.5.5.7.3.3",
  emailprotection: "1.3.6.1.5.5.7.3.4",
  ipsecendsystem: "1.3.6.1.5.5.7.3.5",
  ipsectunnel: "1.3.6.1.5.5.7.3.6",
  ipsecuser: "1.3.6.1.5.5.7.3.7",
  timestamping: "1.3.6.1.5.5.7.3.8",
  ocspsigning: "1.3.6.1.5.5.7.3.9",
};

export function extKeyUsageOid(name: string): string {
  const oid = EXT_KEY_USAGE_OIDS[name.toLowerCase().replace(/^extkeyusage/, "")];
  if (!oid) throw new BadRequest(`unknown ext_key_usage ${fields.quoted(name)}`);
  return oid;
}

/** Longest dotted OID taken from a request; real ones are a few dozen characters. */
const MAX_OID_LENGTH = 1024;

/**
 * `s` when it is a dotted OID that der.oid() encodes exactly (two or more arcs, the first 0–2,
 * the second below 40 under 0 and 1 as X.690 requires, every arc a safe integer), else a 400
 * naming `field`. Split, not a regex with a repeated group: V8 keeps backtracking state for each
 * repetition of a group, and megabytes of "1.1.1…" overflow its stack (a 500).
 */
export function checkOid(s: string, field: string): string {
  const arcs = s.length <= MAX_OID_LENGTH ? s.split(".") : [];
  const ok = arcs.length >= 2 && /^[0-2]$/.test(arcs[0]!) &&
    arcs.every((a) => /^\d{1,15}$/.test(a)) && (arcs[0] === "2" || Number(arcs[1]) < 40);
  if (!ok) throw new BadRequest(`invalid ${field} entry ${fields.quoted(s)}`);
  return s;
}

export function extKeyUsage(oids: string[]): Bytes | null {
  if (oids.length === 0) return null;
  return extension("2.5.29.37", false, der.sequence(...oids.map(der.oid)));
}

export interface AltNames {
  dns: string[];
  email: string[];
  ip: Uint8Array[];
  uri: string[];
}

/**
 * A SAN's IA5String bytes. RFC 5280 makes these ASCII, and Go (Vault's clients, Go TLS) refuses
 * to parse a certificate whose SAN holds anything else: a 400 here rather than a certificate
 * half the world cannot read.
 */
function ia5(s: string, what: string): Uint8Array {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) {
      throw new BadRequest(`${what} ${fields.quoted(s)} is not printable ASCII (IA5String)`);
    }
  }
  return new TextEncoder().encode(s);
}

/** RFC 5280 makes the SAN critical when the subject is empty. */
export function subjectAltName(n: AltNames, critical: boolean): Bytes | null {
  const items: Bytes[] = [
    ...n.email.map((s) => der.tlv(0x81, ia5(s, "email"))),
    ...n.dns.map((s) => der.tlv(0x82, ia5(s, "DNS name"))),
    ...n.uri.map((s) => der.tlv(0x86, ia5(s, "URI"))),
    ...n.ip.map((b) => der.tlv(0x87, b)),
  ];
  if (items.length === 0) return null;
  return extension("2.5.29.17", critical, der.sequence(...items));
}

export function subjectKeyId(id: Uint8Array): Bytes {
  return extension("2.5.29.14", false, der.octetString(id));
}

export function authorityKeyId(id: Uint8Array): Bytes {
  return extension("2.5.29.35", false, der.sequence(der.tlv(0x80, id)));
}
