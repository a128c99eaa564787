import assert from "node:assert/strict";
import { formatSerial, normalizeSerial, randomSerial } from "./serial.ts";

Deno.test("randomSerial() is 16 bytes, positive, with no leading zero byte", () => {
  for (let i = 0; i < 1000; i++) {
    const s = randomSerial();
    assert.equal(s.length, 16);
    assert.ok(s[0]! >= 1 && s[0]! <= 0x7f);
  }
});

Deno.test("normalizeSerial() accepts colons, hyphens and bare hex, and drops sign bytes", () => {
  assert.equal(normalizeSerial("AB:cd:01"), "ab-cd-01");
  assert.equal(normalizeSerial("ab-cd-1"), "ab-cd-01");
  assert.equal(normalizeSerial("abcd01"), "ab-cd-01");
  assert.equal(normalizeSerial("00:ff:01"), "ff-01");
  assert.throws(() => normalizeSerial("zz:01"), /invalid serial number/);
  assert.throws(() => normalizeSerial("../x"), /invalid serial number/);
  assert.equal(formatSerial(Uint8Array.of(0, 0xab, 1)), "ab:01");
});
