/**
 * Just enough DER to build certificates and reshape keys. Leaves are encoded here instead of with
 * @peculiar/x509's generator because its ASN.1 object model costs ~1.5 ms per certificate, more
 * than the signature itself; hand-built DER is a few microseconds. Parsing of anything a client
 * sends (CSRs, bundles) still goes through @peculiar/x509.
 */

/** Bytes backed by a plain ArrayBuffer, which is what WebCrypto accepts. */
export type Bytes = Uint8Array<ArrayBuffer>;

const utf8 = new TextEncoder();

export function concat(parts: Uint8Array[]): Bytes {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function lengthBytes(n: number): number[] {
  if (n < 0x80) return [n];
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

export function tlv(tag: number, content: Uint8Array): Bytes {
  const len = lengthBytes(content.length);
  const out = new Uint8Array(1 + len.length + content.length);
  out[0] = tag;
  out.set(len, 1);
  out.set(content, 1 + len.length);
  return out;
}

export function sequence(...parts: Uint8Array[]): Bytes {
  return tlv(0x30, concat(parts));
}

/** A SET with one member: every RDN this engine writes is single-valued, so no sorting needed. */
export function set1(member: Uint8Array): Bytes {
  return tlv(0x31, member);
}

export function octetString(bytes: Uint8Array): Bytes {
  return tlv(0x04, bytes);
}

export function bitString(bytes: Uint8Array, unusedBits = 0): Bytes {
  const content = new Uint8Array(bytes.length + 1);
  content[0] = unusedBits;
  content.set(bytes, 1);
  return tlv(0x03, content);
}

/** A non-negative INTEGER from its big-endian magnitude. */
export function unsignedInteger(magnitude: Uint8Array): Bytes {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  if (m.length === 0) return Uint8Array.of(0x02, 0x01, 0x00);
  return tlv(0x02, m[0]! & 0x80 ? concat([Uint8Array.of(0), m]) : m);
}

export function smallInteger(n: number): Bytes {
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x & 0xff);
  return unsignedInteger(Uint8Array.from(bytes));
}

export const TRUE: Bytes = Uint8Array.of(0x01, 0x01, 0xff);
export const NULL: Bytes = Uint8Array.of(0x05, 0x00);

const oidCache = new Map<string, Bytes>();

export function oid(dotted: string): Bytes {
  const hit = oidCache.get(dotted);
  if (hit) return hit;
  const arcs = dotted.split(".").map(Number);
  const body: number[] = [];
  const push = (v: number) => {
    const chunk = [v & 0x7f];
    for (let x = Math.floor(v / 128); x > 0; x = Math.floor(x / 128)) {
      chunk.unshift(0x80 | (x & 0x7f));
    }
    body.push(...chunk);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  const out = tlv(0x06, Uint8Array.from(body));
  oidCache.set(dotted, out);
  return out;
}

export function decodeOid(content: Uint8Array): string {
  const arcs: number[] = [];
  let v = 0;
  for (const b of content) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join(".");
}

export function utf8String(s: string): Bytes {
  return tlv(0x0c, utf8.encode(s));
}

export function printableString(s: string): Bytes {
  return tlv(0x13, utf8.encode(s));
}

export function ia5String(s: string): Bytes {
  return tlv(0x16, utf8.encode(s));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
export function time(d: Date): Bytes {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z";
  const year = d.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? tlv(0x17, utf8.encode(digits.slice(2)))
    : tlv(0x18, utf8.encode(digits));
}

export function explicit(n: number, content: Uint8Array): Bytes {
  return tlv(0xa0 | n, content);
}

/** One parsed TLV: offsets into the buffer it came from. */
export interface Node {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

/** Reads the TLV at `at`; throws RangeError on anything malformed or running past `limit`. */
export function readNode(buf: Uint8Array, at: number, limit: number = buf.length): Node {
  if (at + 2 > limit) throw new RangeError("Truncated DER");
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new RangeError("Unsupported DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > limit) throw new RangeError("Truncated DER");
  return { tag, start: at, contentStart: p, end: p + len };
}

export function children(buf: Uint8Array, node: Node): Node[] {
  const out: Node[] = [];
  for (let at = node.contentStart; at < node.end;) {
    const c = readNode(buf, at, node.end);
    out.push(c);
    at = c.end;
  }
  return out;
}

export function content(buf: Bytes, node: Node): Bytes {
  return buf.subarray(node.contentStart, node.end);
}

export function raw(buf: Bytes, node: Node): Bytes {
  return buf.subarray(node.start, node.end);
}

/** The top-level node of a DER blob, which must span it exactly. */
export function root(buf: Uint8Array): Node {
  const n = readNode(buf, 0);
  if (n.end !== buf.length) throw new RangeError("Trailing data after DER");
  return n;
}
