import assert from "node:assert/strict";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { Barrier } from "../../core/barrier/barrier.ts";
import { Keyring } from "../../core/barrier/keyring.ts";
import { open, seal } from "../../core/barrier/aead.ts";
import { randomKey } from "../../lib/crypto.ts";

async function withBarrier(fn: (b: Barrier, s: LibsqlStorage) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const s = await LibsqlStorage.open(`${dir}/b.db`);
  const b = new Barrier(s);
  b.unsealWith(Keyring.create());
  try {
    await fn(b, s);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const enc = (x: string) => new TextEncoder().encode(x);
const dec = (x: Uint8Array | null) => x ? new TextDecoder().decode(x) : null;

Deno.test("Barrier.put() stores ciphertext, never the plaintext", async () => {
  await withBarrier(async (b, s) => {
    await b.put("logical/x/secret", enc("hunter2-plaintext"));
    const raw = await s.get("logical/x/secret");
    assert.ok(raw);
    assert.equal(Buffer.from(raw).includes("hunter2"), false);
    assert.equal(dec(await b.get("logical/x/secret")), "hunter2-plaintext");
  });
});

Deno.test("Barrier.get() rejects a tampered ciphertext", async () => {
  await withBarrier(async (b, s) => {
    await b.put("k", enc("value"));
    const raw = (await s.get("k"))!;
    for (const i of [0, 5, 20, raw.length - 1]) {
      const t = raw.slice();
      t[i]! ^= 0x01;
      await s.transaction([{ op: "put", key: "k", value: t }]);
      await assert.rejects(() => b.get("k"));
    }
  });
});

Deno.test("Barrier.get() rejects a ciphertext moved to another key (AAD binds the key)", async () => {
  await withBarrier(async (b, s) => {
    await b.put("logical/a/one", enc("secret-one"));
    const raw = (await s.get("logical/a/one"))!;
    await s.transaction([{ op: "put", key: "logical/a/two", value: raw }]);
    await assert.rejects(() => b.get("logical/a/two"), /decryption failed/);
  });
});

Deno.test("Barrier rotation: new writes use the new term and old data still reads", async () => {
  await withBarrier(async (b, s) => {
    await b.put("old", enc("v1"));
    b.replaceKeyring(b.keyring.rotated());
    await b.put("new", enc("v2"));
    const oldRaw = (await s.get("old"))!;
    const newRaw = (await s.get("new"))!;
    assert.equal(new DataView(oldRaw.buffer, oldRaw.byteOffset).getUint32(1), 1);
    assert.equal(new DataView(newRaw.buffer, newRaw.byteOffset).getUint32(1), 2);
    assert.equal(dec(await b.get("old")), "v1");
    assert.equal(dec(await b.get("new")), "v2");
  });
});

Deno.test("Barrier refuses every call while sealed", async () => {
  await withBarrier(async (b) => {
    b.seal();
    await assert.rejects(() => b.get("x"), /sealed/);
    await assert.rejects(() => b.put("x", enc("y")), /sealed/);
  });
});

Deno.test("aead seal() uses a fresh nonce per write", () => {
  const key = randomKey();
  const a = seal(key, 1, "k", enc("same"));
  const b = seal(key, 1, "k", enc("same"));
  assert.notDeepEqual(a.subarray(5, 17), b.subarray(5, 17));
  assert.equal(dec(open(key, "k", a)), "same");
  assert.throws(() => open(randomKey(), "k", a), /decryption failed/);
});
