import assert from "node:assert/strict";
import { inAnyCidr, parseCidr, parseIp } from "../../lib/cidr.ts";

const CASES: [string, string, boolean][] = [
  ["10.0.0.0/8", "10.1.2.3", true],
  ["10.0.0.0/8", "11.0.0.1", false],
  ["192.168.1.0/24", "192.168.1.255", true],
  ["192.168.1.0/24", "192.168.2.0", false],
  ["0.0.0.0/0", "8.8.8.8", true],
  ["127.0.0.1", "127.0.0.1", true],
  ["127.0.0.1", "127.0.0.2", false],
  ["2001:db8::/32", "2001:db8:1::5", true],
  ["2001:db8::/32", "2001:db9::1", false],
  ["::1/128", "::1", true],
  ["fe80::/10", "fe80::1%eth0", true],
  ["10.0.0.0/8", "::ffff:10.9.9.9", true],
  ["2001:db8::/32", "10.0.0.1", false],
  ["10.0.0.0/8", "", false],
  ["10.0.0.0/8", "not-an-ip", false],
  ["::/0", "2606:4700::1111", true],
];

for (const [cidr, ip, want] of CASES) {
  Deno.test(`inAnyCidr() ${cidr} ∋ ${ip || "(empty)"} is ${want}`, () => {
    assert.equal(inAnyCidr([parseCidr(cidr)], ip), want);
  });
}

Deno.test("parseCidr() rejects malformed blocks", () => {
  for (
    const bad of [
      "10.0.0.0/33",
      "1.2.3/8",
      "300.1.1.1/8",
      "2001:db8::/129",
      "abc",
      "1.2.3.4/8/9",
      "::1::2/64",
    ]
  ) {
    assert.throws(() => parseCidr(bad), RangeError, bad);
  }
});

Deno.test("parseIp() reads IPv6 with an embedded IPv4 tail", () => {
  assert.deepEqual(parseIp("64:ff9b::192.0.2.33"), {
    v6: true,
    value: 0x0064ff9b0000000000000000c0000221n,
  });
});
