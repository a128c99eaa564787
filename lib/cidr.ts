/**
 * IPv4/IPv6 addresses and CIDR blocks, parsed once into bigints so a membership test is two
 * bigint operations. IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) match IPv4 blocks.
 */

export interface Cidr {
  v6: boolean;
  /** Network address with host bits cleared. */
  net: bigint;
  mask: bigint;
  text: string;
}

function parseV4(s: string): bigint | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const b = Number(p);
    if (b > 255) return null;
    n = (n << 8n) | BigInt(b);
  }
  return n;
}

function parseV6(s: string): bigint | null {
  let text = s;
  const zone = text.indexOf("%");
  if (zone !== -1) text = text.slice(0, zone);
  let tail: bigint[] = [];
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two 16-bit groups.
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".") && lastColon !== -1) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    tail = [v4 >> 16n, v4 & 0xffffn];
    text = text.slice(0, lastColon + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string) => h === "" ? [] : h.split(":");
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? head.length !== 8 : missing < 1) return null;
  const all = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  let n = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail.length) n = (n & ~0xffffffffn) | (tail[0]! << 16n) | tail[1]!;
  return n;
}

/** An address as { v6, value }, or null when it is not an IP address. */
export function parseIp(s: string): { v6: boolean; value: bigint } | null {
  const t = s.trim().replace(/^\[|\]$/g, "");
  if (t.includes(":")) {
    const v = parseV6(t);
    if (v === null) return null;
    // IPv4-mapped: compare as IPv4.
    if (v >> 32n === 0xffffn) return { v6: false, value: v & 0xffffffffn };
    return { v6: true, value: v };
  }
  const v = parseV4(t);
  return v === null ? null : { v6: false, value: v };
}

/** Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (a /32 or /128); throws RangeError. */
export function parseCidr(s: string): Cidr {
  const [addr, bitsText, extra] = s.trim().split("/");
  if (extra !== undefined || !addr) throw new RangeError(`invalid CIDR "${s}"`);
  const ip = parseIp(addr);
  const v6 = addr.includes(":") && ip?.v6 !== false;
  if (!ip) throw new RangeError(`invalid CIDR "${s}"`);
  const width = ip.v6 ? 128 : 32;
  const bits = bitsText === undefined ? width : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!(bits >= 0 && bits <= width)) throw new RangeError(`invalid CIDR "${s}"`);
  const all = (1n << BigInt(width)) - 1n;
  const mask = bits === 0 ? 0n : (all << BigInt(width - bits)) & all;
  void v6;
  return { v6: ip.v6, net: ip.value & mask, mask, text: s.trim() };
}

export function cidrContains(c: Cidr, ip: { v6: boolean; value: bigint }): boolean {
  return c.v6 === ip.v6 && (ip.value & c.mask) === c.net;
}

/** True when `address` parses and lies in any of `cidrs`; an unparsable address never matches. */
export function inAnyCidr(cidrs: readonly Cidr[], address: string): boolean {
  const ip = parseIp(address);
  if (!ip) return false;
  return cidrs.some((c) => cidrContains(c, ip));
}
