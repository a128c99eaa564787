import assert from "node:assert/strict";
import { formatIp, parseIp } from "./ip.ts";

const VALID: [string, string][] = [
  ["127.0.0.1", "127.0.0.1"],
  ["::1", "0:0:0:0:0:0:0:1"],
  ["2001:db8::8:800:200c:417a", "2001:db8:0:0:8:800:200c:417a"],
  ["::ffff:10.0.0.1", "0:0:0:0:0:ffff:a00:1"],
  ["fe80::", "fe80:0:0:0:0:0:0:0"],
];
const INVALID = [
  "256.0.0.1",
  "1.2.3",
  "01.2.3.4",
  "1::2::3",
  "12345::",
  "example.com",
  "",
  "1:2:3:4:5:6:7",
];

Deno.test("parseIp() reads IPv4 and IPv6 literals and refuses anything else", () => {
  for (const [s, out] of VALID) assert.equal(formatIp(parseIp(s)!), out, s);
  for (const s of INVALID) assert.equal(parseIp(s), null, s);
  assert.equal(parseIp("10.0.0.1")!.length, 4);
  assert.equal(parseIp("::1")!.length, 16);
});
