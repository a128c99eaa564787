import assert from "node:assert/strict";
import { BlobCache } from "../../core/storage/blob_cache.ts";

Deno.test("blob cache: bounded by bytes, evicts the least recently used first", () => {
  // 100 bytes per entry (a 1-byte key and 99 bytes of value), room for sixteen.
  const c = new BlobCache(1600);
  const v = (n: number) => new Uint8Array(99).fill(n);
  const key = (n: number) => String.fromCharCode(65 + n);
  for (let i = 0; i < 16; i++) c.set(key(i), v(i));
  assert.equal(c.get(key(0))?.[0], 0); // now the most recently used
  for (let i = 16; i < 21; i++) c.set(key(i), v(i));
  // Five new entries pushed out the five oldest, skipping the one that was read.
  assert.equal(c.get(key(0))?.[0], 0);
  for (let i = 1; i <= 5; i++) assert.equal(c.get(key(i)), undefined, `${i} evicted`);
  for (let i = 6; i < 21; i++) assert.equal(c.get(key(i))?.[0], i);
  c.replace(key(9), v(99));
  assert.equal(c.get(key(9))?.[0], 99);
  c.replace(key(1), v(1)); // not cached: stays out
  assert.equal(c.get(key(1)), undefined);
  c.delete(key(9));
  assert.equal(c.get(key(9)), undefined);
  // Too big for the cache (over a sixteenth of it): not kept.
  c.set("big", new Uint8Array(200));
  assert.equal(c.get("big"), undefined);
});

Deno.test("blob cache: with every entry read, a new one stays and the oldest goes", () => {
  const c = new BlobCache(1600); // room for sixteen 100-byte entries
  const v = (n: number) => new Uint8Array(99).fill(n);
  const key = (n: number) => String.fromCharCode(65 + n);
  for (let i = 0; i < 16; i++) c.set(key(i), v(i));
  for (let i = 0; i < 16; i++) c.get(key(i));
  c.set("n", v(99));
  assert.equal(c.get("n")?.[0], 99);
  assert.equal(c.get(key(0)), undefined);
  for (let i = 1; i < 16; i++) assert.equal(c.get(key(i))?.[0], i);
  // Everything was read again: the next one in takes the place of the oldest after "A".
  c.set("m", v(98));
  assert.equal(c.get("m")?.[0], 98);
  assert.equal(c.get(key(1)), undefined);
  assert.equal(c.get("n")?.[0], 99);
});

Deno.test("blob cache: a value too big to keep drops the one it replaces", () => {
  const c = new BlobCache(1600);
  c.set("k", new Uint8Array(50).fill(1));
  assert.equal(c.get("k")?.[0], 1);
  c.set("k", new Uint8Array(500).fill(2)); // over a sixteenth: not kept
  assert.equal(c.get("k"), undefined);
  c.replace("k", new Uint8Array(50).fill(3)); // no longer cached: stays out
  assert.equal(c.get("k"), undefined);
});
