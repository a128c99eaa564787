import assert from "node:assert/strict";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { Barrier } from "../../core/barrier/barrier.ts";
import { Keyring } from "../../core/barrier/keyring.ts";
import { seal as aeadSeal } from "../../core/barrier/aead.ts";
import { PlaintextCache } from "../../core/barrier/plaintext_cache.ts";

/** A real barrier that counts AES-GCM opens, to tell a memory hit from a decrypt. */
class CountingBarrier extends Barrier {
  opens = 0;
  override decrypt(key: string, blob: Uint8Array): Uint8Array {
    this.opens++;
    return super.decrypt(key, blob);
  }
}

async function withBarrier(
  fn: (b: CountingBarrier, s: LibsqlStorage, keyring: Keyring) => Promise<void>,
  plaintextCacheBytes?: number,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const s = await LibsqlStorage.open(`${dir}/b.db`);
  const b = new CountingBarrier(s, { plaintextCacheBytes });
  const keyring = Keyring.create();
  b.unsealWith(keyring);
  try {
    await fn(b, s, keyring);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const enc = (x: string) => new TextEncoder().encode(x);
const dec = (x: Uint8Array | null) => x ? new TextDecoder().decode(x) : null;

Deno.test("Barrier.get() serves a repeated read from memory without decrypting", async () => {
  await withBarrier(async (b) => {
    await b.put("logical/m/a", enc("alpha"));
    assert.equal(dec(await b.get("logical/m/a")), "alpha");
    assert.equal(b.opens, 1);
    for (let i = 0; i < 5; i++) assert.equal(dec(await b.get("logical/m/a")), "alpha");
    assert.equal(b.opens, 1);
    assert.equal(b.cachedPlaintexts, 1);
  });
});

Deno.test("Barrier.get() returns a value written through the barrier at once", async () => {
  await withBarrier(async (b) => {
    await b.put("k", enc("v1"));
    assert.equal(dec(await b.get("k")), "v1");
    await b.put("k", enc("v2"));
    assert.equal(dec(await b.get("k")), "v2");
    await b.batch([{ op: "put", key: "k", value: enc("v3") }]);
    assert.equal(dec(await b.get("k")), "v3");
    await b.delete("k");
    assert.equal(await b.get("k"), null);
  });
});

Deno.test("Barrier.get() never serves a stale plaintext when reads race writes", async () => {
  await withBarrier(async (b) => {
    await b.put("race", enc("v0"));
    for (let i = 1; i <= 200; i++) {
      // Reads issued before, with and after the write in the same tick: some see the old value
      // (the write is not acknowledged yet), and may try to cache it while the commit is open.
      const reads: Promise<Uint8Array | null>[] = [b.get("race")];
      const write = b.put("race", enc(`v${i}`));
      reads.push(b.get("race"));
      await Promise.resolve();
      reads.push(b.get("race"));
      const seen = (await Promise.all(reads)).map(dec);
      await write;
      for (const v of seen) assert.ok(v === `v${i - 1}` || v === `v${i}`, `read ${v} at ${i}`);
      assert.equal(dec(await b.get("race")), `v${i}`, `stale read after write ${i} was acked`);
    }
  });
});

Deno.test("Barrier.get() notices a value changed beneath it in physical storage", async () => {
  await withBarrier(async (b, s, keyring) => {
    await b.put("k", enc("through-barrier"));
    assert.equal(dec(await b.get("k")), "through-barrier");
    const active = keyring.active;
    // A writer that bypasses the barrier (as seal/keyring code does for its own keys).
    await s.transaction([{
      op: "put",
      key: "k",
      value: aeadSeal(active.key, active.term, "k", enc("direct")),
    }]);
    assert.equal(dec(await b.get("k")), "direct");
  });
});

Deno.test("Barrier.get() hands out copies: zeroing a returned value spoils no later read", async () => {
  await withBarrier(async (b) => {
    await b.put("audit-key", enc("0123456789abcdef"));
    const first = (await b.get("audit-key"))!;
    first.fill(0); // what AuditBroker.close() does to the audit key
    const second = (await b.get("audit-key"))!;
    assert.equal(dec(second), "0123456789abcdef");
    second.fill(0);
    assert.equal(dec(await b.get("audit-key")), "0123456789abcdef");
  });
});

Deno.test("Barrier.seal() drops every cached plaintext", async () => {
  await withBarrier(async (b, _s) => {
    for (let i = 0; i < 10; i++) await b.put(`k${i}`, enc(`v${i}`));
    for (let i = 0; i < 10; i++) await b.get(`k${i}`);
    assert.equal(b.cachedPlaintexts, 10);
    const keyring = Keyring.fromJSON(b.keyring.toJSON());
    b.seal();
    assert.equal(b.cachedPlaintexts, 0);
    await assert.rejects(() => b.get("k1"), /sealed/);
    b.unsealWith(keyring);
    const before = b.opens;
    assert.equal(dec(await b.get("k1")), "v1");
    assert.equal(b.opens, before + 1, "a read after unseal must decrypt again");
  });
});

Deno.test("Barrier plaintext cache stays within its byte budget", async () => {
  const budget = 64 * 200;
  await withBarrier(async (b) => {
    const value = enc("x".repeat(150));
    for (let i = 0; i < 300; i++) await b.put(`k${i}`, value);
    for (let i = 0; i < 300; i++) await b.get(`k${i}`);
    assert.ok(b.cachedPlaintexts > 0);
    assert.ok(b.cachedPlaintexts * 150 <= budget, `${b.cachedPlaintexts} entries held`);
    // The most recently read keys are the ones kept.
    const before = b.opens;
    await b.get("k299");
    assert.equal(b.opens, before);
    await b.get("k0");
    assert.equal(b.opens, before + 1);
  }, budget);
});

Deno.test("PlaintextCache keeps no value above 1/64 of its budget and evicts the least recent", () => {
  const c = new PlaintextCache(64 * 100);
  const blob = new Uint8Array(1);
  c.set("big", blob, new Uint8Array(101));
  assert.equal(c.size, 0);
  c.set("a", blob, new Uint8Array(100));
  for (let i = 0; i < 200; i++) {
    c.set(`k${i}`, blob, new Uint8Array(90));
    c.get("a", blob); // keep "a" recent
    assert.ok(c.bytes <= 64 * 100);
  }
  assert.ok(c.get("a", blob));
  assert.equal(c.get("k0", blob), undefined);
  assert.equal(c.get("a", new Uint8Array(1)), undefined, "another blob must not match");
  assert.equal(c.get("a", blob), undefined, "a mismatch drops the entry");
  c.wipe();
  assert.equal(c.size, 0);
  assert.equal(c.bytes, 0);
});

Deno.test("Barrier.getShared() parses once per stored version and shares a frozen object", async () => {
  await withBarrier(async (b, s) => {
    await b.put("j", enc(JSON.stringify({ a: { b: [1, "x"] } })));
    const first = await b.getShared("j") as { a: { b: unknown[] } };
    assert.deepEqual(first, { a: { b: [1, "x"] } });
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.a) && Object.isFrozen(first.a.b));
    assert.throws(() => {
      (first.a as Record<string, unknown>).b = 2;
    }, TypeError);
    assert.equal(await b.getShared("j"), first);
    assert.equal(b.opens, 1);
    // A write through the barrier, or one that went around it, gives readers the new value.
    await b.put("j", enc(JSON.stringify({ a: 2 })));
    assert.deepEqual(await b.getShared("j"), { a: 2 });
    await s.transaction([{ op: "put", key: "j", value: b.encrypt("j", enc('{"a":3}')) }]);
    assert.deepEqual(await b.getShared("j"), { a: 3 });
    await b.delete("j");
    assert.equal(await b.getShared("j"), null);
    // get() still hands out private copies of the same stored value.
    await b.put("j", enc('{"a":4}'));
    await b.getShared("j");
    assert.equal(dec(await b.get("j")), '{"a":4}');
  });
});

Deno.test("Barrier.peekShared() answers only what getShared() already holds, and never a stale value", async () => {
  await withBarrier(async (b, s) => {
    await b.put("p", enc('{"v":1}'));
    assert.equal(b.peekShared("p"), undefined); // not parsed yet
    const v1 = await b.getShared("p");
    assert.equal(b.peekShared("p"), v1);
    await s.transaction([{ op: "put", key: "p", value: b.encrypt("p", enc('{"v":2}')) }]);
    assert.equal(b.peekShared("p"), undefined); // changed beneath the barrier
    assert.deepEqual(await b.getShared("p"), { v: 2 });
    b.seal();
    assert.equal(b.peekShared("p"), undefined);
  });
});

Deno.test("PlaintextCache counts parsed values against its budget too", () => {
  const c = new PlaintextCache(64 * 100);
  const blob = new Uint8Array(1);
  c.set("a", blob, new Uint8Array(100));
  const before = c.bytes;
  c.setShared("a", blob, { parsed: true });
  assert.equal(c.bytes, before + 300);
  assert.deepEqual(c.shared("a", blob), { parsed: true });
  c.setShared("a", blob, { again: true }); // the first parse stays, counted once
  assert.equal(c.bytes, before + 300);
  assert.equal(c.shared("a", new Uint8Array(1)), undefined, "only for the blob it was made from");
  for (let i = 0; i < 100; i++) {
    c.set(`k${i}`, blob, new Uint8Array(90));
    c.setShared(`k${i}`, blob, i);
    assert.ok(c.bytes <= 64 * 100);
  }
  c.delete("k99");
  c.wipe();
  assert.equal(c.bytes, 0);
});
