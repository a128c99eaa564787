import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { HmacSha256, sha256Bytes, sha256Hex } from "../../lib/sha256.ts";

const encoder = new TextEncoder();
const ref = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Strings that exercise every UTF-8 width, surrogate pairs and lone surrogates. */
function randomString(len: number, seed: number): string {
  const pool = [
    "a",
    "Z",
    "0",
    "\u0000",
    "\u007f",
    "\u0080",
    "é",
    "\u07ff",
    "\u0800",
    "€",
    "\uffff",
    "😀",
    "\ud800",
    "\udfff",
    '"',
    "\\",
    "\n",
  ];
  let s = "";
  let x = seed;
  while (s.length < len) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += pool[x % pool.length];
  }
  return s;
}

Deno.test("sha256Hex matches node:crypto on known vectors and every length across block edges", () => {
  assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  for (let len = 0; len <= 300; len++) {
    const s = "x".repeat(len);
    assert.equal(sha256Hex(s), ref(encoder.encode(s)), `ascii length ${len}`);
    const bytes = new Uint8Array(len).map((_, i) => (i * 131 + len) & 255);
    assert.equal(sha256Hex(bytes), ref(bytes), `bytes length ${len}`);
  }
  const big = new Uint8Array(1_000_003).map((_, i) => i & 255);
  assert.equal(sha256Hex(big), ref(big));
});

Deno.test("sha256Hex encodes strings as TextEncoder does (multi-byte, pairs, lone surrogates)", () => {
  for (let i = 0; i < 400; i++) {
    const s = randomString(i % 150, i + 1);
    assert.equal(sha256Hex(s), ref(encoder.encode(s)), JSON.stringify(s));
  }
});

Deno.test("sha256Hex of several parts is the hash of their concatenation; sha256Bytes agrees", () => {
  for (let i = 0; i < 100; i++) {
    const a = randomString(i, 7 * i + 3);
    const b = new Uint8Array(i * 3).map((_, j) => j);
    const c = randomString(90 - (i % 90), i);
    const whole = new Uint8Array([...encoder.encode(a), ...b, ...encoder.encode(c)]);
    assert.equal(sha256Hex(a, b, c), ref(whole));
    assert.deepEqual(
      sha256Bytes(whole),
      new Uint8Array(createHash("sha256").update(whole).digest()),
    );
  }
});

Deno.test("HmacSha256 matches createHmac for short, block-sized and long keys", () => {
  for (const keyLen of [0, 1, 31, 32, 63, 64, 65, 200]) {
    const key = new Uint8Array(keyLen).map((_, i) => (i * 7 + keyLen) & 255);
    const mac = new HmacSha256(key);
    for (let i = 0; i < 80; i++) {
      const msg = i % 2 ? randomString(i * 3, i) : new Uint8Array(i * 5).map((_, j) => j ^ i);
      const bytes = typeof msg === "string" ? encoder.encode(msg) : msg;
      const want = createHmac("sha256", key).update(bytes).digest("hex");
      assert.equal(mac.hex(msg), want, `key ${keyLen} msg ${i}`);
      assert.equal(Buffer.from(mac.bytes(msg)).toString("hex"), want);
    }
    // Interleaving with plain hashes must not disturb the keyed states.
    sha256Hex("interleaved");
    assert.equal(mac.hex("after"), createHmac("sha256", key).update("after").digest("hex"));
  }
});

Deno.test("a wiped HmacSha256 refuses to tag", () => {
  const mac = new HmacSha256(new Uint8Array(32).fill(9));
  mac.wipe();
  assert.throws(() => mac.hex("x"), /wiped/);
});
