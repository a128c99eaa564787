import assert from "node:assert/strict";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { ShamirSeal } from "../../core/seal/seal.ts";
import { combineShares, splitKey } from "../../core/seal/shamir.ts";
import { randomKey } from "../../lib/crypto.ts";

async function withSeal(fn: (s: ShamirSeal) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const st = await LibsqlStorage.open(`${dir}/s.db`);
  try {
    const s = new ShamirSeal(st);
    await s.load();
    await fn(s);
  } finally {
    await st.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("splitKey()/combineShares() rebuild the key from any threshold subset", async () => {
  const key = randomKey();
  const shares = await splitKey(key, 5, 3);
  assert.equal(shares.length, 5);
  for (const pick of [[0, 1, 2], [1, 3, 4], [0, 2, 4]]) {
    assert.deepEqual(await combineShares(pick.map((i) => shares[i]!)), key);
  }
  const two = await combineShares([shares[0]!, shares[1]!]);
  assert.notDeepEqual(two, key);
});

Deno.test("ShamirSeal.submit() unseals with the threshold of correct shares", async () => {
  await withSeal(async (s) => {
    const { shares } = await s.initialize(5, 3);
    assert.equal(await s.submit(shares[4]!), null);
    assert.equal(s.progress, 1);
    assert.equal(await s.submit(shares[1]!), null);
    const r = await s.submit(shares[2]!);
    assert.ok(r);
    assert.equal(r.keyring.active.term, 1);
    assert.equal(s.progress, 0);
  });
});

Deno.test("ShamirSeal.submit() rejects a wrong share and resets progress", async () => {
  await withSeal(async (s) => {
    const { shares } = await s.initialize(3, 2);
    const bad = shares[1]!.slice();
    bad[0]! ^= 0xff;
    await s.submit(shares[0]!);
    await assert.rejects(() => s.submit(bad), /did not open the keyring|do not combine/);
    assert.equal(s.progress, 0);
    // Correct shares still work afterwards.
    await s.submit(shares[0]!);
    assert.ok(await s.submit(shares[2]!));
  });
});

Deno.test("ShamirSeal.submit() rejects a share from another initialisation", async () => {
  await withSeal(async (s) => {
    const { shares } = await s.initialize(3, 2);
    const other = await splitKey(randomKey(), 3, 2);
    await s.submit(shares[0]!);
    await assert.rejects(() => s.submit(other[1]!));
    assert.equal(s.progress, 0);
  });
});

Deno.test("ShamirSeal.initialize() refuses a second init", async () => {
  await withSeal(async (s) => {
    await s.initialize(1, 1);
    await assert.rejects(() => s.initialize(1, 1), /already initialized/);
  });
});

Deno.test("ShamirSeal with one share uses the key itself", async () => {
  await withSeal(async (s) => {
    const { shares } = await s.initialize(1, 1);
    assert.equal(shares[0]!.length, 32);
    assert.ok(await s.submit(shares[0]!));
  });
});

Deno.test("ShamirSeal.nonce: a UUID for the whole of an unseal in progress, empty otherwise", async () => {
  await withSeal(async (s) => {
    const { shares } = await s.initialize(3, 3);
    assert.equal(s.nonce, "");
    await s.submit(shares[0]!);
    const nonce = s.nonce;
    assert.match(nonce, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await s.submit(shares[0]!); // repeated: ignored, same attempt
    await s.submit(shares[1]!);
    assert.equal(s.progress, 2);
    assert.equal(s.nonce, nonce);
    assert.ok(await s.submit(shares[2]!));
    assert.equal(s.nonce, "");

    // A reset ends the attempt; the next one has a nonce of its own.
    await s.submit(shares[0]!);
    const second = s.nonce;
    assert.notEqual(second, "");
    assert.notEqual(second, nonce);
    s.resetProgress();
    assert.equal(s.nonce, "");
    // So does a failed attempt (here a share of the wrong length).
    await s.submit(shares[1]!);
    assert.notEqual(s.nonce, "");
    await assert.rejects(s.submit(new Uint8Array(5)));
    assert.equal(s.progress, 0);
    assert.equal(s.nonce, "");
  });
});
