import assert from "node:assert/strict";
import { clientAddress } from "../../core/http/client_address.ts";
import { parseCidr } from "../../lib/cidr.ts";

const trusted = ["10.0.0.0/8", "fd00::/8"].map(parseCidr);
const CASES: [string, string, string | null, string][] = [
  ["no proxies configured", "1.2.3.4", "9.9.9.9", "1.2.3.4"],
  ["untrusted peer's XFF is ignored", "203.0.113.5", "9.9.9.9", "203.0.113.5"],
  ["trusted peer, XFF used", "10.0.0.2", "198.51.100.7", "198.51.100.7"],
  [
    "rightmost untrusted hop wins (client cannot spoof)",
    "10.0.0.2",
    "6.6.6.6, 198.51.100.7, 10.0.0.9",
    "198.51.100.7",
  ],
  ["IPv6 proxy", "fd00::1", "2001:db8::5", "2001:db8::5"],
  ["garbage in XFF → peer", "10.0.0.2", "not-an-ip", "10.0.0.2"],
  ["trusted peer without XFF", "10.0.0.2", null, "10.0.0.2"],
];

for (const [name, peer, xff, want] of CASES) {
  Deno.test(`clientAddress() ${name}`, () => {
    const h = new Headers(xff === null ? {} : { "x-forwarded-for": xff });
    const list = name === "no proxies configured" ? [] : trusted;
    assert.equal(clientAddress(list, peer, h), want);
  });
}
