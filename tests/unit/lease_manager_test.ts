import assert from "node:assert/strict";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { Barrier } from "../../core/barrier/barrier.ts";
import { Keyring } from "../../core/barrier/keyring.ts";
import {
  LeaseManager,
  type LeaseManagerOptions,
  leaseTtls,
  validLeasePath,
} from "../../core/lease/lease_manager.ts";
import { DueQueue } from "../../core/lease/due_queue.ts";
import { type Engine, type LeaseInfo, putJSONOp, type WriteOp } from "../../engines/sdk.ts";
import { sha256Hex } from "../../lib/crypto.ts";

const MOUNT = {
  path: "db/",
  uuid: "u-1",
  config: { default_lease_ttl: 0, max_lease_ttl: 0 },
};
const SECRET = { ttl: 60, maxTtl: 120, renewable: true, internal: { user: "v-1" } };

interface Fixture {
  m: LeaseManager;
  barrier: Barrier;
  log: string[];
  failRevokes: { n: number };
  revokeGate: { wait: Promise<void> | null };
  clock: { now: number };
  opts: LeaseManagerOptions;
  /** Set to make MOUNT's engine unknown (the mount was removed). */
  mountGone: { v: boolean };
}

async function withManager(
  fn: (f: Fixture) => Promise<void>,
  extra: Partial<LeaseManagerOptions> = {},
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const s = await LibsqlStorage.open(`${dir}/t.db`);
  const barrier = new Barrier(s);
  barrier.unsealWith(Keyring.create());
  const log: string[] = [];
  const failRevokes = { n: 0 };
  const revokeGate: { wait: Promise<void> | null } = { wait: null };
  const clock = { now: Date.now() };
  const mountGone = { v: false };
  const engine: Engine = {
    type: "fixture",
    version: "0",
    paths: [],
    secrets: {
      renew: (l: LeaseInfo, exp: number) => {
        log.push(`renew ${l.leaseId} ${exp - l.issueTime}`);
        return Promise.resolve();
      },
      revoke: async (l: LeaseInfo) => {
        if (revokeGate.wait) await revokeGate.wait;
        if (failRevokes.n > 0) {
          failRevokes.n--;
          throw new Error("down: password=fixture-secret-in-message");
        }
        log.push(`revoke ${l.leaseId}`);
      },
    },
  };
  const opts: LeaseManagerOptions = {
    storage: barrier.view("sys/expire/"),
    engineFor: (u) => u === MOUNT.uuid && !mountGone.v ? engine : null,
    now: () => clock.now,
    ...extra,
  };
  const m = new LeaseManager(opts);
  await m.start();
  try {
    await fn({ m, barrier, log, failRevokes, revokeGate, clock, opts, mountGone });
  } finally {
    await m.stop();
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function until(ok: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("leaseTtls() takes the secret's TTL, then the mount's, then 768h, capped by max", () => {
  const none = { default_lease_ttl: 0, max_lease_ttl: 0 };
  const tuned = { default_lease_ttl: 600, max_lease_ttl: 3600 };
  assert.deepEqual(leaseTtls({ ttl: 60, maxTtl: 120 }, none), { ttl: 60, max: 120 });
  assert.deepEqual(leaseTtls({ ttl: 0, maxTtl: 0 }, none), { ttl: 2764800, max: 2764800 });
  assert.deepEqual(leaseTtls({ ttl: 0, maxTtl: 0 }, tuned), { ttl: 600, max: 3600 });
  assert.deepEqual(leaseTtls({ ttl: 9000, maxTtl: 0 }, tuned), { ttl: 3600, max: 3600 });
  // The mount's max also caps what the engine asks for (Vault's CalculateTTL).
  assert.deepEqual(leaseTtls({ ttl: 60, maxTtl: 7200 }, tuned), { ttl: 60, max: 3600 });
  assert.deepEqual(leaseTtls({ ttl: 200, maxTtl: 100 }, none), { ttl: 100, max: 100 });
  assert.deepEqual(leaseTtls({ ttl: -5, maxTtl: NaN }, tuned), { ttl: 600, max: 3600 });
});

Deno.test("validLeasePath() refuses empty, dot and control-character segments", () => {
  for (const ok of ["db/creds/ro/abc", "a", "x.y/z-1"]) assert.equal(validLeasePath(ok), true, ok);
  for (const bad of ["", "/a", "a//b", "a/../b", "a/./b", "a/", "a\nb", "x".repeat(1025)]) {
    assert.equal(validLeasePath(bad), false, JSON.stringify(bad));
  }
  assert.equal(validLeasePath("db/creds/", true), true);
});

Deno.test("DueQueue pops in due order", () => {
  const q = new DueQueue();
  const ats = Array.from({ length: 200 }, () => Math.floor(Math.random() * 1000));
  ats.forEach((at, i) => q.push({ at, id: String(i) }));
  const out: number[] = [];
  for (let d = q.pop(); d; d = q.pop()) out.push(d.at);
  assert.deepEqual(out, [...ats].sort((a, b) => a - b));
});

Deno.test("LeaseManager.register() names the lease after the mount and path", async () => {
  await withManager(async ({ m, clock }) => {
    const e = await m.register({
      mount: MOUNT,
      path: "creds/ro",
      secret: SECRET,
      tokenAccessor: "acc1",
    });
    assert.match(e.id, /^db\/creds\/ro\/[0-9A-Za-z]{24}$/);
    assert.equal(e.expireTime - clock.now, 60_000);
    assert.equal(e.maxExpireTime - clock.now, 120_000);
    assert.deepEqual((await m.lookup(e.id)).internal, { user: "v-1" });
    assert.deepEqual(await m.list("db/creds/"), ["ro/"]);
  });
});

Deno.test("LeaseManager.register() revokes the secret when its lease cannot be stored", async () => {
  await withManager(async ({ m, barrier, log }) => {
    barrier.seal();
    await assert.rejects(() =>
      m.register({ mount: MOUNT, path: "creds/ro", secret: SECRET, tokenAccessor: "" })
    );
    assert.equal(log.length, 1);
    assert.match(log[0]!, /^revoke db\/creds\/ro\//);
    assert.equal(m.count, 0);
  });
});

Deno.test("LeaseManager.register() refuses a secret from an engine without secrets", async () => {
  await withManager(async ({ m }) => {
    await assert.rejects(
      () =>
        m.register({
          mount: { ...MOUNT, uuid: "other" },
          path: "x",
          secret: SECRET,
          tokenAccessor: "",
        }),
      { status: 500 },
    );
  });
});

Deno.test("LeaseManager.renew() and revoke() on one lease are serialised", async () => {
  await withManager(async ({ m, log, revokeGate }) => {
    const e = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "" });
    let open!: () => void;
    revokeGate.wait = new Promise((r) => open = r);
    const revoking = m.revoke(e.id);
    const renewing = m.renew(e.id, 30);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(log.length, 0, "renew waits for the revoke in progress");
    open();
    assert.equal(await revoking, true);
    await assert.rejects(renewing, { message: "lease not found" });
    assert.deepEqual(log, [`revoke ${e.id}`]);
  });
});

Deno.test("LeaseManager arms its timer for the earliest lease, also when a sooner one arrives", async () => {
  await withManager(async ({ m, log, clock }) => {
    clock.now = Date.now();
    const late = await m.register({
      mount: MOUNT,
      path: "late",
      secret: { ...SECRET, ttl: 3600 },
      tokenAccessor: "",
    });
    // Real time drives the timer; the clock moves with it so expiry is judged consistently.
    const tick = setInterval(() => clock.now = Date.now(), 5);
    try {
      const soon = await m.register({
        mount: MOUNT,
        path: "soon",
        secret: { ...SECRET, ttl: 1 },
        tokenAccessor: "",
      });
      await until(() => m.count === 1);
      assert.deepEqual(log, [`revoke ${soon.id}`]);
      assert.ok(await m.lookup(late.id));
    } finally {
      clearInterval(tick);
    }
  });
});

Deno.test("LeaseManager retries a failed revoke with a doubling delay", async () => {
  await withManager(async ({ m, log, failRevokes, clock }) => {
    const e = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "" });
    failRevokes.n = 3;
    const started = Date.now();
    clock.now += 61_000; // expired by the manager's clock
    const tick = setInterval(() => clock.now += 5, 5);
    try {
      await assert.rejects(() => m.revoke(e.id), { message: "failed to revoke lease" });
      await until(() => m.count === 0);
      // Attempts at ~0, +20, +40, +80 ms: three failures, then success.
      assert.ok(Date.now() - started >= 100, `${Date.now() - started}ms`);
      assert.equal(failRevokes.n, 0);
      assert.deepEqual(log, [`revoke ${e.id}`]);
    } finally {
      clearInterval(tick);
    }
  }, { retryBaseMs: 20 });
});

Deno.test("LeaseManager.stop() stops expiry; a new manager picks the lease up from storage", async () => {
  await withManager(async ({ m, log, clock, opts }) => {
    const e = await m.register({
      mount: MOUNT,
      path: "p",
      secret: { ...SECRET, ttl: 1 },
      tokenAccessor: "t",
    });
    await m.stop();
    clock.now += 5_000;
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(log.length, 0);
    const again = new LeaseManager(opts);
    await again.start();
    try {
      await until(() => again.count === 0);
      assert.deepEqual(log, [`revoke ${e.id}`]);
    } finally {
      await again.stop();
    }
  });
});

Deno.test("LeaseManager.revokeByTokens() expires the token's leases only", async () => {
  await withManager(async ({ m, log }) => {
    const a = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "A" });
    const b = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "B" });
    await m.revokeByTokens(["A", "unknown"]);
    await until(() => log.includes(`revoke ${a.id}`));
    assert.equal(log.includes(`revoke ${b.id}`), false);
    assert.ok(await m.lookup(b.id));
  });
});

Deno.test("the token index is keyed under a salt, and an unsalted legacy index is moved at start", async () => {
  await withManager(async ({ m, log, barrier, opts }) => {
    const a = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "acc-A" });
    const b = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "acc-B" });
    const view = barrier.view("sys/expire/");
    const plain = (s: string) => sha256Hex(s);
    const index = async () => {
      const out: string[] = [];
      for (const p of ["by-token/", "token/"]) {
        for (const t of await view.list(p)) {
          for (const k of await view.list(p + t)) out.push(p + t + k);
        }
      }
      return out;
    };
    const salted = await index();
    assert.equal(salted.length, 2);
    assert.ok(salted.every((k) => k.startsWith("by-token/")), salted.join());
    // Neither the accessor nor its plain hash names a key.
    for (const acc of ["acc-A", "acc-B"]) {
      assert.equal(salted.some((k) => k.includes(acc) || k.includes(plain(acc))), false);
    }
    // Turn the index back into the pre-salt layout, as an older database holds it, plus one
    // entry whose lease is gone.
    const ops: WriteOp[] = salted.map((key) => ({ op: "delete", key }));
    for (const e of [a, b]) {
      ops.push(putJSONOp(`token/${plain(e.tokenAccessor)}/${plain(e.id)}`, e.id));
    }
    ops.push(putJSONOp(`token/${plain("acc-C")}/${plain("gone")}`, "db/p/gone"));
    await view.batch(ops);
    await m.stop();
    const again = new LeaseManager(opts);
    await again.start();
    try {
      const moved = await index();
      assert.deepEqual(moved.sort(), salted.sort(), "the same salted keys, and no legacy ones");
      await again.revokeByTokens(["acc-A"]);
      await until(() => log.includes(`revoke ${a.id}`));
      assert.equal(log.includes(`revoke ${b.id}`), false);
    } finally {
      await again.stop();
    }
  });
});

Deno.test("LeaseManager.tidy() revokes leases whose token is gone", async () => {
  await withManager(async ({ m, log }) => {
    const a = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "A" });
    const b = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "B" });
    const r = await m.tidy((acc) => Promise.resolve(acc === "B"));
    assert.deepEqual(r, { dangling: 0, orphaned: 1 });
    await until(() => log.includes(`revoke ${a.id}`));
    assert.ok(await m.lookup(b.id));
  });
});

Deno.test("LeaseManager keeps a lease whose engine is gone; only revoke-force drops it", async () => {
  await withManager(async ({ m, log, mountGone }) => {
    const e = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "" });
    mountGone.v = true;
    await assert.rejects(() => m.revoke(e.id), { status: 500 });
    await assert.rejects(() => m.revokePrefix("db/"), { status: 500 });
    assert.equal(m.count, 1);
    assert.ok(await m.lookup(e.id), "the record is kept: its credential may still work");
    assert.equal(await m.revoke(e.id, { force: true }), true);
    assert.equal(m.count, 0);
    assert.deepEqual(log, []);
  });
});

Deno.test("LeaseManager.register() expires at once a lease whose token is already gone", async () => {
  await withManager(async ({ m, log }) => {
    const gone = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "X" });
    const live = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "L" });
    await until(() => log.includes(`revoke ${gone.id}`));
    assert.ok(await m.lookup(live.id));
    assert.equal(log.includes(`revoke ${live.id}`), false);
  }, { tokenExists: (a) => Promise.resolve(a !== "X") });
});

Deno.test("LeaseManager looks at a lease when its token expires: revoked if gone, re-armed if renewed", async () => {
  const tokens = new Map<string, number>();
  await withManager(async ({ m, log, clock }) => {
    tokens.set("T", clock.now + 100);
    tokens.set("R", clock.now + 100);
    const gone = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "T" });
    const kept = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "R" });
    // R is renewed before it expires; T is not (and so, once past, is gone).
    tokens.set("R", clock.now + 10_000);
    clock.now += 200;
    tokens.delete("T");
    await until(() => log.includes(`revoke ${gone.id}`));
    await new Promise((r) => setTimeout(r, 150));
    assert.ok(await m.lookup(kept.id));
    assert.equal(log.includes(`revoke ${kept.id}`), false);
    // Its renewal was refused once the token had gone.
    await assert.rejects(() => m.renew(gone.id), { status: 400 });
    tokens.delete("R");
    await assert.rejects(() => m.renew(kept.id), { status: 400, message: "lease expired" });
    await until(() => log.includes(`revoke ${kept.id}`));
  }, { tokenExpiry: (a) => Promise.resolve(tokens.get(a) ?? null) });
});

Deno.test("LeaseManager logs a failing revoke's error type only, and caps the retry warnings", async () => {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (line: string) => lines.push(String(line));
  try {
    await withManager(async ({ m, failRevokes, clock }) => {
      const e = await m.register({ mount: MOUNT, path: "p", secret: SECRET, tokenAccessor: "" });
      failRevokes.n = 25;
      const tick = setInterval(() => clock.now += 5, 5);
      try {
        await assert.rejects(() => m.revoke(e.id));
        await until(() => m.count === 0, 10_000);
      } finally {
        clearInterval(tick);
      }
    }, { retryBaseMs: 1, retryMaxMs: 1 });
  } finally {
    console.error = orig;
  }
  const retries = lines.filter((l) => l.includes("lease revocation failed"));
  assert.deepEqual(retries.map((l) => JSON.parse(l).attempt), [1, 2, 3, 4, 5, 10, 20]);
  assert.equal(JSON.parse(retries[0]!).error_type, "Error");
  assert.equal(lines.some((l) => l.includes("fixture-secret-in-message")), false);
});
