import assert from "node:assert/strict";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { Barrier } from "../../core/barrier/barrier.ts";
import { Keyring } from "../../core/barrier/keyring.ts";
import { LAST_USE_PENDING, SYSTEM_MAX_TTL, TokenStore } from "../../core/token/token_store.ts";
import { putJSONOp, type StorageView } from "../../engines/sdk.ts";

interface Env {
  /** The token store's view of the barrier ("sys/token/"). */
  view: StorageView;
  /** A new TokenStore on the same storage: what the next unseal builds. */
  reopen(): TokenStore;
}

async function withStore(
  fn: (t: TokenStore, clock: { now: number }, s: LibsqlStorage, env: Env) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const s = await LibsqlStorage.open(`${dir}/t.db`);
  const b = new Barrier(s);
  b.unsealWith(Keyring.create());
  const clock = { now: 1_700_000_000_000 };
  const view = b.view("sys/token/");
  const reopen = () => new TokenStore(view, () => clock.now);
  try {
    await fn(reopen(), clock, s, { view, reopen });
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

Deno.test("TokenStore.create(): an empty id is no id, so a token is generated (Vault)", async () => {
  await withStore(async (t) => {
    const { token } = await t.create({ id: "", policies: ["default"], parent: null });
    assert.match(token, /^hvs\.[A-Za-z0-9]{24}$/);
    assert.ok(await t.lookup(token));
    const mine = await t.create({ id: "mine", policies: ["default"], parent: null });
    assert.equal(mine.token, "mine");
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

Deno.test("TokenStore.create(): a root token without a ttl is still bound by explicit_max_ttl", async () => {
  await withStore(async (t, clock) => {
    const root = await t.create({ policies: ["root"], parent: null, explicitMaxTtl: 2 });
    assert.equal(root.entry.creation_ttl, 2);
    assert.equal(root.entry.expire_time, clock.now + 2000);
    assert.equal(root.entry.renewable, true);
    const forever = await t.create({ policies: ["root"], parent: null });
    assert.equal(forever.entry.creation_ttl, 0);
    assert.equal(forever.entry.renewable, false);
    const capped = await t.create({
      policies: ["root"],
      parent: null,
      ttl: 3600,
      explicitMaxTtl: 2,
    });
    assert.equal(capped.entry.creation_ttl, 2);
    clock.now += 2000;
    assert.equal(await t.lookup(root.token), null);
    assert.equal(await t.lookup(capped.token), null);
    assert.ok(await t.lookup(forever.token));
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

Deno.test("TokenStore: a non-explicit maxTtl caps creation and renewals but is not explicit_max_ttl", async () => {
  await withStore(async (t, clock) => {
    const { entry } = await t.create({ policies: ["p"], parent: null, ttl: 300, maxTtl: 100 });
    assert.equal(entry.creation_ttl, 100);
    assert.equal(entry.explicit_max_ttl, 0);
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

Deno.test("TokenStore.use() counts down; the last use marks the token spent for its request", async () => {
  await withStore(async (t, _c, s) => {
    const { token, entry } = await t.create({ policies: ["p"], parent: null, numUses: 2 });
    const e1 = (await t.use(entry))!;
    assert.equal(e1.num_uses, 1);
    assert.equal((await t.lookup(token))!.num_uses, 1);
    const e2 = (await t.use(e1))!;
    assert.equal(e2.num_uses, LAST_USE_PENDING);
    // Refused by every lookup from now on (and by a fresh store reading storage), not yet gone.
    assert.equal(await t.lookup(token), null);
    assert.equal(await t.lookupByAccessor(entry.accessor), null);
    assert.equal(await t.use(e2), null);
    assert.equal((await s.keys("sys/token/id/")).length, 1);
    // The request that spent it revokes it when it ends.
    await t.revoke(e2);
    assert.deepEqual(await s.keys("sys/token/id/"), []);
  });
});

Deno.test("TokenStore.use(): concurrent uses of one token spend distinct uses", async () => {
  await withStore(async (t, _c, _s, env) => {
    const { token, entry } = await t.create({ policies: ["p"], parent: null, numUses: 3 });
    const spent = await Promise.all(Array.from({ length: 8 }, () => t.use(entry)));
    assert.deepEqual(
      spent.map((e) => e?.num_uses ?? null).sort(),
      [1, 2, LAST_USE_PENDING, null, null, null, null, null].sort(),
    );
    // Also when the entry is not cached yet (a fresh store after unseal).
    const { entry: e2 } = await t.create({ policies: ["p"], parent: null, numUses: 2 });
    const fresh = env.reopen();
    const spent2 = await Promise.all(Array.from({ length: 5 }, () => fresh.use(e2)));
    assert.equal(spent2.filter((e) => e !== null).length, 2);
    assert.equal(await t.lookup(token), null);
  });
});

Deno.test("TokenStore.use() and renew() never write a revoked token back", async () => {
  await withStore(async (t, clock, s) => {
    const a = await t.create({ policies: ["p"], parent: null, numUses: 5 });
    await t.revoke(a.entry);
    assert.equal(await t.use(a.entry), null);
    const b = await t.create({ policies: ["p"], parent: null, ttl: 60 });
    await t.revoke(b.entry);
    clock.now += 1000;
    await assert.rejects(() => t.renew(b.entry, 60), /not found/);
    // Racing: the revoke is queued while the use and renew are under way.
    const c = await t.create({ policies: ["p"], parent: null, numUses: 5, ttl: 60 });
    await Promise.all([t.use(c.entry), t.revoke(c.entry), t.use(c.entry)]);
    assert.deepEqual(await s.keys("sys/token/id/"), []);
    assert.equal(await t.lookup(a.token), null);
    assert.equal(await t.lookup(c.token), null);
  });
});

Deno.test("TokenStore.revokeOrphan() revokes the token; its children live on as orphans", async () => {
  await withStore(async (t, _c, s, env) => {
    const p = await t.create({ policies: ["p"], parent: null });
    const c1 = await t.create({ policies: ["p"], parent: p.entry });
    const c2 = await t.create({ policies: ["p"], parent: p.entry, numUses: 3 });
    const g = await t.create({ policies: ["p"], parent: c1.entry });
    await t.use(c2.entry);
    await t.revokeOrphan(p.entry);
    assert.equal(await t.lookup(p.token), null);
    assert.equal(await t.lookupByAccessor(p.entry.accessor), null);
    for (const store of [t, env.reopen()]) {
      const e1 = (await store.lookup(c1.token))!;
      assert.equal(e1.orphan, true);
      assert.equal(e1.parent, "");
      const e2 = (await store.lookup(c2.token))!;
      assert.equal(e2.orphan, true);
      assert.equal(e2.num_uses, 2, "the use spent before is kept");
      const eg = (await store.lookup(g.token))!;
      assert.equal(eg.orphan, false);
      assert.equal(eg.parent, c1.entry.id);
    }
    assert.deepEqual(await s.keys(`sys/token/parent/${p.entry.id}/`), []);
    // The grandchild still hangs off its own parent.
    await t.revoke(c1.entry);
    assert.equal(await t.lookup(g.token), null);
    assert.ok(await t.lookup(c2.token));
  });
});

Deno.test("TokenStore: the accessor index is keyed by an HMAC; no accessor is in a storage key", async () => {
  await withStore(async (t, _c, s, env) => {
    const made = await Promise.all(
      Array.from({ length: 5 }, () => t.create({ policies: ["p"], parent: null })),
    );
    const accessors = made.map((m) => m.entry.accessor);
    const keys = await s.keys("");
    for (const a of accessors) assert.equal(keys.some((k) => k.includes(a)), false, a);
    const index = await s.keys("sys/token/accessor/");
    assert.equal(index.length, 5);
    for (const k of index) assert.match(k, /^sys\/token\/accessor\/[0-9a-f]{64}$/);
    // The HMAC key is stored behind the barrier, so the next unseal finds the same index.
    const again = env.reopen();
    for (const m of made) {
      assert.equal((await again.lookupByAccessor(m.entry.accessor))?.id, m.entry.id);
    }
    assert.deepEqual((await again.accessors()).sort(), [...accessors].sort());
    await again.revoke(made[0]!.entry);
    assert.equal((await s.keys("sys/token/accessor/")).length, 4);
    assert.equal(await t.lookupByAccessor(accessors[0]!), null);
    assert.equal(await t.lookupByAccessor("nope"), null);
  });
});

Deno.test("TokenStore: a plaintext accessor index from before is moved to keyed names, once", async () => {
  await withStore(async (t, _c, s, env) => {
    const a = await t.create({ policies: ["p"], parent: null });
    const b = await t.create({ policies: ["p"], parent: a.entry });
    // Rewrite the index the way the old code stored it: accessor/<accessor> → the token's id.
    const keyed = await s.keys("sys/token/accessor/");
    await env.view.batch([
      ...keyed.map((k) => ({ op: "delete" as const, key: k.slice("sys/token/".length) })),
      putJSONOp(`accessor/${a.entry.accessor}`, a.entry.id),
      putJSONOp(`accessor/${b.entry.accessor}`, b.entry.id),
    ]);
    assert.ok((await s.keys("")).includes(`sys/token/accessor/${a.entry.accessor}`));

    const next = env.reopen();
    assert.equal((await next.lookupByAccessor(a.entry.accessor))?.id, a.entry.id);
    assert.equal((await next.lookupByAccessor(b.entry.accessor))?.id, b.entry.id);
    const moved = await s.keys("sys/token/accessor/");
    assert.deepEqual(moved.sort(), [...keyed].sort(), "the same keyed names as before");
    const all = await s.keys("");
    for (const acc of [a.entry.accessor, b.entry.accessor]) {
      assert.equal(all.some((k) => k.includes(acc)), false);
    }
    // Idempotent: another unseal changes nothing, and the moved entries revoke normally.
    const third = env.reopen();
    await third.init();
    assert.deepEqual((await s.keys("sys/token/accessor/")).sort(), [...keyed].sort());
    await third.revoke(a.entry);
    assert.deepEqual(await s.keys("sys/token/accessor/"), []);
    assert.equal(await third.lookup(b.token), null);
  });
});

Deno.test("TokenStore.tidy() removes a spent token its request could not revoke", async () => {
  await withStore(async (t, _c, s) => {
    const { token, entry } = await t.create({ policies: ["p"], parent: null, numUses: 1 });
    await t.create({ policies: ["p"], parent: null });
    await t.use(entry);
    assert.equal(await t.lookup(token), null);
    assert.equal(await t.tidy(), 1);
    assert.equal((await s.keys("sys/token/id/")).length, 1);
    assert.equal((await s.keys("sys/token/accessor/")).length, 1);
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

Deno.test("TokenStore.create(): a child of a parent with under a second left still expires with it", async () => {
  await withStore(async (t, clock) => {
    const p = await t.create({ policies: ["p"], parent: null, ttl: 10 });
    clock.now += 9_500;
    // The parent's remaining life rounds down to 0 s: that must not read as "never expires".
    const c = await t.create({ policies: ["p"], parent: p.entry, ttl: 3600 });
    assert.equal(c.entry.expire_time, p.entry.expire_time);
    assert.equal(c.entry.creation_ttl, 1);
    clock.now += 500;
    assert.equal(await t.lookup(c.token), null);
    // A parent that has expired (an entry read before it did) has no children any more.
    await assert.rejects(
      () => t.create({ policies: ["p"], parent: p.entry }),
      /parent token has expired or been revoked/,
    );
    await t.revoke(p.entry);
  });
});

Deno.test("TokenStore.renew(): a child is renewed no further than its parent's expiry", async () => {
  await withStore(async (t, clock, _s, env) => {
    const start = clock.now;
    const p = await t.create({ policies: ["p"], parent: null, ttl: 3 });
    const c = await t.create({ policies: ["p"], parent: p.entry, ttl: 2 });
    const g = await t.create({ policies: ["p"], parent: c.entry, ttl: 1 });
    // Asked for an hour, given what the parent has left.
    const rc = await t.renew(c.entry, 3600);
    assert.equal(rc.expire_time, start + 3000);
    assert.equal(rc.last_renewal_time, start);
    const rg = await t.renew(g.entry, 3600);
    assert.equal(rg.expire_time, start + 3000, "a grandchild: capped by its own parent");
    // By a fresh store that has nothing cached (a renew by accessor after unseal reads storage).
    const fresh = env.reopen();
    const byAcc = (await fresh.lookupByAccessor(c.entry.accessor))!;
    assert.equal((await fresh.renew(byAcc, 7200)).expire_time, start + 3000);
    // When the parent expires, the whole subtree has expired with it.
    clock.now = start + 3000;
    for (const tok of [p.token, c.token, g.token]) assert.equal(await t.lookup(tok), null);
    await assert.rejects(() => t.renew(rc, 60), /not found/);
    assert.ok(await t.tidy() >= 1);
    assert.deepEqual(await env.view.list("id/"), []);
  });
});

Deno.test("TokenStore.renew(): a parent renewed later lets its children be renewed further", async () => {
  await withStore(async (t, clock) => {
    const start = clock.now;
    const p = await t.create({ policies: ["p"], parent: null, ttl: 10 });
    const c = await t.create({ policies: ["p"], parent: p.entry, ttl: 10 });
    clock.now += 5_000;
    const rp = await t.renew(p.entry, 100);
    assert.equal(rp.expire_time, start + 105_000);
    // The child keeps its own expiry until it is renewed itself.
    assert.equal((await t.lookup(c.token))!.expire_time, start + 10_000);
    assert.equal((await t.renew(c.entry, 50)).expire_time, start + 55_000);
    assert.equal((await t.renew(c.entry, 1000)).expire_time, start + 105_000);
  });
});

Deno.test("TokenStore.renew(): a renewal that shortens a token cuts its subtree back with it", async () => {
  await withStore(async (t, clock, _s, env) => {
    const start = clock.now;
    const p = await t.create({ policies: ["p"], parent: null, ttl: 1000 });
    const c = await t.create({ policies: ["p"], parent: p.entry, ttl: 1000 });
    const g = await t.create({ policies: ["p"], parent: c.entry, ttl: 1000 });
    const short = await t.create({ policies: ["p"], parent: p.entry, ttl: 5 });
    const shortKid = await t.create({ policies: ["p"], parent: short.entry, ttl: 5 });
    const spent = await t.create({ policies: ["p"], parent: c.entry, ttl: 1000, numUses: 3 });
    await t.use(spent.entry);
    clock.now += 1_000;
    const rp = await t.renew(p.entry, 10);
    assert.equal(rp.expire_time, start + 11_000);
    for (const store of [t, env.reopen()]) {
      assert.equal((await store.lookup(c.token))!.expire_time, start + 11_000);
      assert.equal((await store.lookup(g.token))!.expire_time, start + 11_000);
      const s = (await store.lookup(spent.token))!;
      assert.equal(s.expire_time, start + 11_000);
      assert.equal(s.num_uses, 2, "the use spent before is kept");
      // Already ending sooner: untouched.
      assert.equal((await store.lookup(short.token))!.expire_time, start + 5_000);
      assert.equal((await store.lookup(shortKid.token))!.expire_time, start + 5_000);
    }
    clock.now = start + 11_000;
    for (const tok of [p.token, c.token, g.token, spent.token]) {
      assert.equal(await t.lookup(tok), null);
    }
  });
});

Deno.test("TokenStore: children created while their parent is revoked never survive it", async () => {
  await withStore(async (t, _c, _s, env) => {
    for (let round = 0; round < 5; round++) {
      const p = await t.create({ policies: ["p"], parent: null, ttl: 3600 });
      const made = await Promise.allSettled([
        ...Array.from({ length: 10 }, () => t.create({ policies: ["p"], parent: p.entry })),
        t.revoke(p.entry),
        ...Array.from({ length: 10 }, () => t.create({ policies: ["p"], parent: p.entry })),
      ]);
      for (const m of made) {
        if (m.status === "fulfilled" && m.value) {
          assert.equal(await t.lookup(m.value.token), null);
        } else if (m.status === "rejected") {
          assert.match(String(m.reason), /parent token has expired or been revoked/);
        }
      }
      assert.deepEqual(await env.view.list("id/"), []);
    }
  });
});

Deno.test("TokenStore.init(): stored children that outlive their parent are capped, once", async () => {
  await withStore(async (t, clock, _s, env) => {
    const start = clock.now;
    const p = await t.create({ policies: ["p"], parent: null, ttl: 10 });
    const c = await t.create({ policies: ["p"], parent: p.entry, ttl: 10 });
    const g = await t.create({ policies: ["p"], parent: c.entry, ttl: 10 });
    const keep = await t.create({ policies: ["p"], parent: p.entry, ttl: 5 });
    const lost = await t.create({ policies: ["p"], parent: null, ttl: 100 });
    const under = await t.create({ policies: ["p"], parent: lost.entry, ttl: 100 });
    // What the old renew could leave behind: children past their parent, and a child whose
    // parent's entry is gone.
    await env.view.batch([
      putJSONOp(`id/${c.entry.id}`, { ...c.entry, expire_time: start + 3_600_000 }),
      putJSONOp(`id/${g.entry.id}`, { ...g.entry, expire_time: 0 }),
      { op: "delete", key: `id/${lost.entry.id}` },
      { op: "delete", key: "tree-capped" },
    ]);
    const next = env.reopen();
    await next.init();
    assert.equal((await next.lookup(c.token))!.expire_time, start + 10_000);
    assert.equal((await next.lookup(g.token))!.expire_time, start + 10_000);
    assert.equal((await next.lookup(keep.token))!.expire_time, start + 5_000);
    assert.equal(await next.lookup(under.token), null);
    assert.equal(await next.lookupByAccessor(under.entry.accessor), null);
    // Done once: what is stored afterwards is not looked at again.
    await env.view.batch([
      putJSONOp(`id/${c.entry.id}`, { ...c.entry, expire_time: start + 20_000 }),
    ]);
    const third = env.reopen();
    await third.init();
    assert.equal((await third.lookup(c.token))!.expire_time, start + 20_000);
  });
});
