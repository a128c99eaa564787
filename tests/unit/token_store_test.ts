import assert from "node:assert/strict";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { Barrier } from "../../core/barrier/barrier.ts";
import { Keyring } from "../../core/barrier/keyring.ts";
import { SYSTEM_MAX_TTL, TokenStore } from "../../core/token/token_store.ts";

async function withStore(
  fn: (t: TokenStore, clock: { now: number }, s: LibsqlStorage) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const s = await LibsqlStorage.open(`${dir}/t.db`);
  const b = new Barrier(s);
  b.unsealWith(Keyring.create());
  const clock = { now: 1_700_000_000_000 };
  try {
    await fn(new TokenStore(b.view("sys/token/"), () => clock.now), clock, s);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("TokenStore stores only the token hash, never the token", async () => {
  await withStore(async (t, _c, s) => {
    const { token } = await t.create({ policies: ["default"], parent: null });
    for (const k of await s.keys("")) assert.equal(k.includes(token), false);
    assert.ok(await t.lookup(token));
    assert.equal(await t.lookup(token + "x"), null);
  });
});

Deno.test("TokenStore.lookup() refuses an expired token", async () => {
  await withStore(async (t, clock) => {
    const { token } = await t.create({ policies: ["default"], parent: null, ttl: 60 });
    assert.ok(await t.lookup(token));
    clock.now += 59_000;
    assert.ok(await t.lookup(token));
    clock.now += 1_000;
    assert.equal(await t.lookup(token), null);
  });
});

Deno.test("TokenStore.create() caps ttl by explicit_max_ttl and the system max", async () => {
  await withStore(async (t) => {
    const a = await t.create({ policies: ["p"], parent: null, ttl: 3600, explicitMaxTtl: 120 });
    assert.equal(a.entry.creation_ttl, 120);
    const b = await t.create({ policies: ["p"], parent: null, ttl: 10 * SYSTEM_MAX_TTL });
    assert.equal(b.entry.creation_ttl, SYSTEM_MAX_TTL);
    const c = await t.create({ policies: ["p"], parent: null });
    assert.equal(c.entry.creation_ttl, SYSTEM_MAX_TTL);
  });
});

Deno.test("TokenStore.renew() never passes explicit_max_ttl", async () => {
  await withStore(async (t, clock) => {
    const { entry } = await t.create({
      policies: ["p"],
      parent: null,
      ttl: 60,
      explicitMaxTtl: 100,
    });
    clock.now += 50_000;
    const r = await t.renew(entry, 3600);
    assert.equal(r.expire_time, 1_700_000_000_000 + 100_000);
    clock.now += 50_000;
    await assert.rejects(() => t.renew(r, 60), /maximum TTL/);
  });
});

Deno.test("TokenStore.revoke() revokes the whole child tree", async () => {
  await withStore(async (t) => {
    const p = await t.create({ policies: ["p"], parent: null });
    const c1 = await t.create({ policies: ["p"], parent: p.entry });
    const g1 = await t.create({ policies: ["p"], parent: c1.entry });
    const orphan = await t.create({ policies: ["p"], parent: p.entry, noParent: true });
    await t.revoke(p.entry);
    assert.equal(await t.lookup(p.token), null);
    assert.equal(await t.lookup(c1.token), null);
    assert.equal(await t.lookup(g1.token), null);
    assert.ok(await t.lookup(orphan.token));
    assert.equal(await t.lookupByAccessor(g1.entry.accessor), null);
  });
});

Deno.test("TokenStore.use() revokes a limited-use token at zero", async () => {
  await withStore(async (t) => {
    const { token, entry } = await t.create({ policies: ["p"], parent: null, numUses: 2 });
    await t.use(entry);
    const e2 = (await t.lookup(token))!;
    assert.equal(e2.num_uses, 1);
    await t.use(e2);
    assert.equal(await t.lookup(token), null);
  });
});

Deno.test("TokenStore.tidy() removes expired tokens from storage", async () => {
  await withStore(async (t, clock, s) => {
    const { entry } = await t.create({ policies: ["p"], parent: null, ttl: 10 });
    await t.create({ policies: ["p"], parent: null, ttl: 1000 });
    clock.now += 11_000;
    assert.equal(await t.tidy(), 1);
    const keys = await s.keys("sys/token/id/");
    assert.equal(keys.length, 1);
    assert.equal(keys.some((k) => k.endsWith(entry.id)), false);
  });
});

Deno.test("TokenStore: a child token cannot outlive its parent", async () => {
  await withStore(async (t) => {
    const p = await t.create({ policies: ["p"], parent: null, ttl: 100 });
    const c = await t.create({ policies: ["p"], parent: p.entry, ttl: 10_000 });
    assert.ok(c.entry.creation_ttl <= 100);
  });
});
