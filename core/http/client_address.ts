/**
 * The request's client address. X-Forwarded-For is believed only when the TCP peer is a
 * configured trusted proxy, and then we walk it from the right, skipping trusted proxies, so a
 * client cannot spoof its address by sending the header itself.
 */
import { type Cidr, inAnyCidr, parseIp } from "../../lib/cidr.ts";

export function clientAddress(trusted: readonly Cidr[], peer: string, headers: Headers): string {
  if (trusted.length === 0 || !inAnyCidr(trusted, peer)) return peer;
  const xff = headers.get("x-forwarded-for");
  if (!xff) return peer;
  const hops = xff.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (!parseIp(hop)) return peer; // a malformed chain: trust nothing it says
    if (!inAnyCidr(trusted, hop)) return hop;
  }
  return hops[0] ?? peer;
}
