import { sha256Hex } from "../../lib/crypto.ts";
/**
 * The lease manager end to end: a real core (libSQL file, barrier, HTTP) with a fixture engine
 * "leasetest" whose reads hand out leased secrets and which records every renew/revoke call.
 */
import assert from "node:assert/strict";
import { BadRequest } from "../../lib/errors.ts";
import { type Json, startTestCore, type TestCore } from "../helpers/test_core.ts";
import { ENGINES } from "../../engines/registry.ts";
import type { Engine, EngineContext, LeaseInfo } from "../../engines/sdk.ts";
import { createCore, serve } from "../../core/server.ts";
import { decodeShare } from "../../core/seal/seal.ts";

interface Call {
  op: "renew" | "revoke";
  mount: string;
  lease: LeaseInfo;
  expireTime?: number;
}

const calls: Call[] = [];
const closed: string[] = [];
/** Role name → how many more renew/revoke calls fail. */
const failRevoke = new Map<string, number>();
const failRenew = new Set<string>();
let issued = 0;

interface Gate {
  entered: boolean;
  open(): void;
  opened: Promise<void>;
}
/** Marker → a read carrying it waits for the test to open the gate (a slow backend). */
const gates = new Map<string, Gate>();

function gate(marker: string): Gate {
  let open!: () => void;
  const opened = new Promise<void>((r) => open = r);
  const g: Gate = { entered: false, open, opened };
  gates.set(marker, g);
  return g;
}

function leaseTestEngine(ctx: EngineContext): Engine {
  const mount = ctx.mount.path;
  return {
    type: "leasetest",
    version: "0.0.1",
    paths: [{
      pattern: "creds/:name+",
      operations: {
        read: async (req) => {
          const q = req.data as Record<string, string | undefined>;
          const g = gates.get(q.marker ?? "");
          if (g) {
            g.entered = true;
            await g.opened;
          }
          issued++;
          return await Promise.resolve({
            data: { value: `lt-value-${crypto.randomUUID()}` },
            secret: {
              ttl: Number(q.ttl ?? 60),
              maxTtl: Number(q.max ?? 0),
              renewable: q.renewable !== "false",
              internal: { name: req.params.name, n: issued, marker: q.marker ?? "" },
            },
          });
        },
      },
    }],
    secrets: {
      renew(lease, expireTime) {
        const name = String(lease.internal.name);
        if (failRenew.has(name)) return Promise.reject(new Error("backend refused the renewal"));
        calls.push({ op: "renew", mount, lease, expireTime });
        return Promise.resolve();
      },
      revoke(lease) {
        const name = String(lease.internal.name);
        const left = failRevoke.get(name) ?? 0;
        if (left > 0) {
          failRevoke.set(name, left - 1);
          return Promise.reject(new Error("backend unreachable"));
        }
        calls.push({ op: "revoke", mount, lease });
        return Promise.resolve();
      },
    },
    close() {
      closed.push(mount);
      return Promise.resolve();
    },
  };
}
ENGINES.leasetest = leaseTestEngine;

/** The engine was asked to revoke, and the record's deletion has been committed. */
async function revokedOnce(t: TestCore, leaseId: string): Promise<boolean> {
  return revokes(leaseId).length === 1 && (await lookup(t, leaseId)).status === 400;
}

function revokes(leaseId: string): Call[] {
  return calls.filter((c) => c.op === "revoke" && c.lease.leaseId === leaseId);
}

/** Revokes of the secret issued with this marker, whether it got a lease or not. */
function revokesOf(marker: string): Call[] {
  return calls.filter((c) => c.op === "revoke" && c.lease.internal.marker === marker);
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 6000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

async function mount(t: TestCore, path = "lt", config: Record<string, unknown> = {}) {
  const r = await t.req("POST", `/v1/sys/mounts/${path}`, { type: "leasetest", config });
  assert.equal(r.status, 204, r.text);
}

async function issue(
  t: TestCore,
  path: string,
  q: Record<string, string | number> = {},
  token?: string,
): Promise<Json> {
  const qs = new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)]));
  const r = await t.req("GET", `/v1/${path}?${qs}`, undefined, token);
  assert.equal(r.status, 200, r.text);
  return r.body;
}

/** A token whose policy may read lt/creds/* and nothing else. */
async function readerToken(t: TestCore): Promise<string> {
  await t.req("PUT", "/v1/sys/policies/acl/reader", {
    policy: `path "lt/creds/*" { capabilities = ["read"] }`,
  });
  return (await t.req("POST", "/v1/auth/token/create", { policies: ["reader"] })).body.auth
    .client_token;
}

async function lookup(t: TestCore, id: string, token?: string) {
  return await t.req("PUT", "/v1/sys/leases/lookup", { lease_id: id }, token);
}

function withCore(
  fn: (t: TestCore) => Promise<void>,
  o: Parameters<typeof startTestCore>[0] = {},
): () => Promise<void> {
  return async () => {
    const t = await startTestCore(o);
    try {
      await fn(t);
    } finally {
      // A failed test must not leave a request hanging on its gate.
      for (const g of gates.values()) g.open();
      gates.clear();
      await t.close();
    }
  };
}

Deno.test(
  "a leased read answers lease_id, lease_duration and renewable; lookup shows the lease",
  withCore(async (t) => {
    await mount(t);
    const before = Date.now();
    const b = await issue(t, "lt/creds/readonly", { ttl: 60, max: 120 });
    assert.match(b.lease_id, /^lt\/creds\/readonly\/[0-9A-Za-z]{24}$/);
    assert.equal(b.lease_duration, 60);
    assert.equal(b.renewable, true);
    assert.match(b.data.value, /^lt-value-/);
    assert.equal(b.data.internal, undefined);
    assert.equal(b.secret, undefined, "the engine's internal state never reaches the client");

    const r = await lookup(t, b.lease_id);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.id, b.lease_id);
    assert.equal(r.body.data.renewable, true);
    assert.equal(r.body.data.last_renewal, null);
    assert.ok(r.body.data.ttl >= 58 && r.body.data.ttl <= 60, String(r.body.data.ttl));
    assert.match(r.body.data.issue_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const issueMs = Date.parse(r.body.data.issue_time);
    assert.ok(issueMs >= before - 1000 && issueMs <= Date.now());
    assert.equal(Date.parse(r.body.data.expire_time) - issueMs, 60_000);

    const missing = await lookup(t, "lt/creds/readonly/nope");
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.body.errors, ["invalid lease"]);
    assert.equal((await lookup(t, "")).status, 400);
    assert.equal((await lookup(t, "lt/../sys")).status, 400);
  }),
);

Deno.test(
  "lease TTLs fall back to the mount's tune, then the system default, and are capped by max",
  withCore(async (t) => {
    await mount(t, "lt", { default_lease_ttl: "30m", max_lease_ttl: "1h" });
    await mount(t, "plain");
    assert.equal((await issue(t, "lt/creds/a", { ttl: 0 })).lease_duration, 1800);
    assert.equal((await issue(t, "lt/creds/a", { ttl: 7200 })).lease_duration, 3600);
    assert.equal((await issue(t, "lt/creds/a", { ttl: 600, max: 300 })).lease_duration, 300);
    assert.equal((await issue(t, "plain/creds/a", { ttl: 0 })).lease_duration, 768 * 3600);
    const b = await issue(t, "plain/creds/a", { ttl: 0, max: 90 });
    assert.equal(b.lease_duration, 90);
  }),
);

Deno.test(
  "sys/leases/renew extends through the engine, is capped at the max TTL and refuses what it must",
  withCore(async (t) => {
    await mount(t);
    const b = await issue(t, "lt/creds/r", { ttl: 10, max: 30 });
    let r = await t.req("PUT", "/v1/sys/leases/renew", { lease_id: b.lease_id, increment: 20 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.lease_id, b.lease_id);
    assert.equal(r.body.lease_duration, 20);
    assert.equal(r.body.renewable, true);
    assert.equal(r.body.data, null);
    const renewed = calls.filter((c) => c.op === "renew" && c.lease.leaseId === b.lease_id);
    assert.equal(renewed.length, 1);
    assert.ok(Math.abs(renewed[0]!.expireTime! - (Date.now() + 20_000)) < 2000);
    assert.equal(renewed[0]!.lease.internal.name, "r");

    let l = await lookup(t, b.lease_id);
    assert.notEqual(l.body.data.last_renewal, null);
    assert.ok(l.body.data.ttl >= 18 && l.body.data.ttl <= 20);

    // Past the max: capped, with Vault's warning; the path form and the legacy route work too.
    r = await t.req("PUT", `/v1/sys/leases/renew/${b.lease_id}`, { increment: "1h" });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.lease_duration <= 30 && r.body.lease_duration >= 28, r.text);
    assert.match(r.body.warnings[0], /capped/);
    l = await lookup(t, b.lease_id);
    assert.equal(Date.parse(l.body.data.expire_time) - Date.parse(l.body.data.issue_time), 30_000);
    r = await t.req("PUT", "/v1/sys/renew", { lease_id: b.lease_id });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.lease_duration <= 30);

    // Without an increment the TTL granted at issue is asked for again.
    const c = await issue(t, "lt/creds/r2", { ttl: 10, max: 100 });
    r = await t.req("PUT", "/v1/sys/leases/renew", { lease_id: c.lease_id });
    assert.equal(r.body.lease_duration, 10);

    const fixed = await issue(t, "lt/creds/fixed", { renewable: "false" });
    assert.equal(fixed.renewable, false);
    r = await t.req("PUT", "/v1/sys/leases/renew", { lease_id: fixed.lease_id });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.errors, ["lease is not renewable"]);

    r = await t.req("PUT", "/v1/sys/leases/renew", { lease_id: "lt/creds/r/missing" });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.errors, ["lease not found"]);
    r = await t.req("PUT", "/v1/sys/leases/renew", {});
    assert.equal(r.status, 400);
    r = await t.req("PUT", "/v1/sys/leases/renew", { lease_id: b.lease_id, increment: "soon" });
    assert.equal(r.status, 400);

    // The engine refuses: the record keeps its old expiry.
    failRenew.add("nope");
    const d = await issue(t, "lt/creds/nope", { ttl: 10, max: 100 });
    const was = (await lookup(t, d.lease_id)).body.data.expire_time;
    r = await t.req("PUT", "/v1/sys/leases/renew", { lease_id: d.lease_id, increment: 50 });
    assert.equal(r.status, 500);
    assert.equal((await lookup(t, d.lease_id)).body.data.expire_time, was);

    // The default policy lets any token renew and look up a lease it knows the id of (Vault).
    const tok = (await t.req("POST", "/v1/auth/token/create", { policies: ["default"] }))
      .body.auth.client_token;
    assert.equal((await lookup(t, c.lease_id, tok)).status, 200);
    r = await t.req("PUT", "/v1/sys/leases/renew", { lease_id: c.lease_id }, tok);
    assert.equal(r.status, 200, r.text);
    r = await t.req("PUT", "/v1/sys/leases/revoke", { lease_id: c.lease_id }, tok);
    assert.equal(r.status, 403);
  }),
);

Deno.test(
  "sys/leases/revoke calls the engine with the lease's internal state, then the lease is gone",
  withCore(async (t) => {
    await mount(t);
    const events: string[] = [];
    const off = t.core.events.onLeaseRevoked((id) => events.push(id));
    try {
      const a = await issue(t, "lt/creds/rv", { marker: "m-a" });
      let r = await t.req("PUT", "/v1/sys/leases/revoke", { lease_id: a.lease_id });
      assert.equal(r.status, 204, r.text);
      const rv = revokes(a.lease_id);
      assert.equal(rv.length, 1);
      assert.deepEqual(rv[0]!.lease.internal, {
        name: "rv",
        n: rv[0]!.lease.internal.n,
        marker: "m-a",
      });
      assert.equal(rv[0]!.lease.path, "creds/rv");
      assert.equal((await lookup(t, a.lease_id)).status, 400);
      assert.deepEqual(events, [a.lease_id]);
      // Revoking again is a no-op, as in Vault.
      r = await t.req("PUT", "/v1/sys/leases/revoke", { lease_id: a.lease_id });
      assert.equal(r.status, 204);
      assert.equal(revokes(a.lease_id).length, 1);

      const b = await issue(t, "lt/creds/rv");
      r = await t.req("PUT", `/v1/sys/leases/revoke/${b.lease_id}`);
      assert.equal(r.status, 204, r.text);
      const c = await issue(t, "lt/creds/rv");
      r = await t.req("PUT", "/v1/sys/revoke", { lease_id: c.lease_id });
      assert.equal(r.status, 204, r.text);
      assert.equal(revokes(b.lease_id).length + revokes(c.lease_id).length, 2);
      assert.equal(
        (await t.req("PUT", "/v1/sys/leases/renew", { lease_id: c.lease_id })).status,
        400,
      );
      assert.equal(t.core.leases.count, 0);
    } finally {
      off();
    }
  }),
);

Deno.test(
  "an expired lease is revoked by core on its own",
  withCore(async (t) => {
    await mount(t);
    const events: string[] = [];
    const off = t.core.events.onLeaseRevoked((id) => events.push(id));
    try {
      const keep = await issue(t, "lt/creds/keep", { ttl: 60 });
      const a = await issue(t, "lt/creds/exp", { ttl: 1 });
      assert.equal(a.lease_duration, 1);
      await until("the expired lease to be revoked", () => revokedOnce(t, a.lease_id));
      assert.equal((await lookup(t, a.lease_id)).status, 400);
      assert.deepEqual(events, [a.lease_id]);
      assert.equal((await lookup(t, keep.lease_id)).status, 200);
      assert.equal(revokes(keep.lease_id).length, 0);
    } finally {
      off();
    }
  }),
);

Deno.test(
  "a failed engine revoke keeps the lease, refuses renewals and is retried until it succeeds",
  withCore(async (t) => {
    await mount(t);
    // On expiry: the first attempt fails, the timer retries.
    failRevoke.set("flaky", 1);
    const a = await issue(t, "lt/creds/flaky", { ttl: 1 });
    await until("the first attempt to fail", () => failRevoke.get("flaky") === 0);
    const l = await lookup(t, a.lease_id);
    assert.equal(l.status, 200, "the lease is kept while its revoke fails");
    assert.equal(l.body.data.ttl, 0);
    await until("the retry to revoke it", () => revokedOnce(t, a.lease_id));
    assert.equal((await lookup(t, a.lease_id)).status, 400);

    // On request: the client hears about the failure, and the lease is expired and retried.
    failRevoke.set("down", 1);
    const b = await issue(t, "lt/creds/down", { ttl: 600 });
    let r = await t.req("PUT", "/v1/sys/leases/revoke", { lease_id: b.lease_id });
    assert.equal(r.status, 500);
    assert.deepEqual(r.body.errors, ["failed to revoke lease"]);
    r = await t.req("PUT", "/v1/sys/leases/renew", { lease_id: b.lease_id });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.errors, ["lease expired"]);
    await until("the background retry", () => revokedOnce(t, b.lease_id));
    assert.equal((await lookup(t, b.lease_id)).status, 400);
  }),
);

Deno.test(
  "revoke-prefix and LIST sys/leases/lookup need sudo; revoke-force skips the engine",
  withCore(async (t) => {
    await mount(t);
    await t.req("PUT", "/v1/sys/policies/acl/ops", {
      policy: `path "sys/leases/*" { capabilities = ["update", "list"] }`,
    });
    const ops = (await t.req("POST", "/v1/auth/token/create", { policies: ["ops"] })).body.auth
      .client_token;
    const a1 = await issue(t, "lt/creds/a/x");
    const a2 = await issue(t, "lt/creds/a/y");
    const b1 = await issue(t, "lt/creds/b");

    let r = await t.req("LIST", "/v1/sys/leases/lookup/lt/creds/", undefined, ops);
    assert.equal(r.status, 403);
    r = await t.req("LIST", "/v1/sys/leases/lookup/lt/creds/");
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.data.keys, ["a/", "b/"]);
    r = await t.req("GET", "/v1/sys/leases/lookup/lt/creds/a?list=true");
    assert.deepEqual(r.body.data.keys.length, 2);
    assert.equal((await t.req("LIST", "/v1/sys/leases/lookup/none/")).status, 404);
    // No prefix lists the top level, as Vault does.
    r = await t.req("LIST", "/v1/sys/leases/lookup/");
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.data.keys, ["lt/"]);

    r = await t.req("PUT", "/v1/sys/leases/revoke-prefix/lt/creds/a", {}, ops);
    assert.equal(r.status, 403);
    assert.equal(revokes(a1.lease_id).length, 0);
    r = await t.req("PUT", "/v1/sys/leases/revoke-prefix/lt/creds/a");
    assert.equal(r.status, 204, r.text);
    assert.equal(revokes(a1.lease_id).length + revokes(a2.lease_id).length, 2);
    assert.equal((await lookup(t, a1.lease_id)).status, 400);
    assert.equal((await lookup(t, b1.lease_id)).status, 200);

    // A prefix that is itself a lease id revokes that lease.
    r = await t.req("PUT", `/v1/sys/revoke-prefix/${b1.lease_id}`);
    assert.equal(r.status, 204);
    assert.equal(revokes(b1.lease_id).length, 1);

    // revoke-force drops records the engine cannot revoke (an operator's last resort).
    failRevoke.set("stuck", 100);
    const s = await issue(t, "lt/creds/stuck");
    assert.equal((await t.req("PUT", "/v1/sys/leases/revoke-prefix/lt/creds/stuck")).status, 500);
    assert.equal((await lookup(t, s.lease_id)).status, 200);
    r = await t.req("PUT", "/v1/sys/leases/revoke-force/lt/creds/stuck", {}, ops);
    assert.equal(r.status, 403);
    r = await t.req("PUT", "/v1/sys/leases/revoke-force/lt/creds/stuck");
    assert.equal(r.status, 204, r.text);
    assert.equal((await lookup(t, s.lease_id)).status, 400);
    assert.equal(revokes(s.lease_id).length, 0);
    failRevoke.delete("stuck");

    assert.equal((await t.req("PUT", "/v1/sys/leases/tidy", {})).status, 202);
  }),
);

Deno.test(
  "revoking a token revokes the leases it created",
  withCore(async (t) => {
    await mount(t);
    await t.req("PUT", "/v1/sys/policies/acl/reader", {
      policy: `path "lt/creds/*" { capabilities = ["read"] }
        path "auth/token/create" { capabilities = ["update"] }`,
    });
    const parent = (await t.req("POST", "/v1/auth/token/create", { policies: ["reader"] })).body
      .auth.client_token;
    const child = (await t.req("POST", "/v1/auth/token/create", { policies: ["reader"] }, parent))
      .body.auth.client_token;
    const other = (await t.req("POST", "/v1/auth/token/create", { policies: ["reader"] })).body
      .auth.client_token;
    const a = await issue(t, "lt/creds/tok", {}, parent);
    const b = await issue(t, "lt/creds/tok", {}, child);
    const c = await issue(t, "lt/creds/tok", {}, other);
    const r = await t.req("PUT", "/v1/auth/token/revoke-self", {}, parent);
    assert.equal(r.status, 204, r.text);
    await until(
      "the parent's and the child's leases to be revoked",
      async () => await revokedOnce(t, a.lease_id) && await revokedOnce(t, b.lease_id),
    );
    assert.equal((await lookup(t, a.lease_id)).status, 400);
    assert.equal((await lookup(t, c.lease_id)).status, 200);
    assert.equal(revokes(c.lease_id).length, 0);
  }),
);

Deno.test(
  "unmounting revokes the mount's leases and closes the engine",
  withCore(async (t) => {
    await mount(t, "gone");
    await mount(t, "stays");
    const a = await issue(t, "gone/creds/x");
    const b = await issue(t, "stays/creds/x");
    const r = await t.req("DELETE", "/v1/sys/mounts/gone");
    assert.equal(r.status, 204, r.text);
    assert.equal(revokes(a.lease_id).length, 1);
    assert.equal((await lookup(t, a.lease_id)).status, 400);
    assert.equal((await lookup(t, b.lease_id)).status, 200);
    assert.ok(closed.includes("gone/"));
    assert.ok(!closed.includes("stays/"));
  }),
);

Deno.test(
  "a wrapped leased response keeps its lease fields through the unwrap",
  withCore(async (t) => {
    await mount(t);
    const w = await t.req("GET", "/v1/lt/creds/w?ttl=120", undefined, undefined, {
      "x-vault-wrap-ttl": "60",
    });
    assert.equal(w.status, 200, w.text);
    assert.equal(w.body.lease_id, "");
    const u = await t.req(
      "PUT",
      "/v1/sys/wrapping/unwrap",
      { token: w.body.wrap_info.token },
      null,
    );
    assert.equal(u.status, 200, u.text);
    assert.match(u.body.lease_id, /^lt\/creds\/w\//);
    assert.equal(u.body.lease_duration, 120);
    assert.equal((await lookup(t, u.body.lease_id)).status, 200);
  }),
);

Deno.test(
  "leases survive seal and unseal; expiry waits for the unseal; engines are closed on seal",
  withCore(async (t) => {
    await mount(t);
    const keep = await issue(t, "lt/creds/s", { ttl: 600 });
    const soon = await issue(t, "lt/creds/s", { ttl: 1 });
    closed.length = 0;
    assert.equal((await t.req("PUT", "/v1/sys/seal")).status, 204);
    assert.deepEqual(closed, ["lt/"]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(revokes(soon.lease_id).length, 0, "nothing is revoked while sealed");
    assert.equal((await lookup(t, keep.lease_id)).status, 503);
    const u = await t.req("PUT", "/v1/sys/unseal", { key: t.unsealKeys[0] }, null);
    assert.equal(u.body.sealed, false);
    await until("the lease that expired while sealed", () => revokedOnce(t, soon.lease_id));
    const l = await lookup(t, keep.lease_id);
    assert.equal(l.status, 200);
    assert.ok(l.body.data.ttl > 590);
    const r = await t.req("PUT", "/v1/sys/leases/renew", {
      lease_id: keep.lease_id,
      increment: 30,
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.lease_duration, 30);
  }),
);

Deno.test("leases survive a restart of core on the same database file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-leases-" });
  const db = `${dir}/secrethub.db`;
  const call = async (url: string, method: string, path: string, body?: unknown, token = "") => {
    const res = await fetch(url + path, {
      method,
      headers: { "content-type": "application/json", ...(token ? { "x-vault-token": token } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  try {
    let { core, app } = await createCore(db, { tidyIntervalMs: 0 });
    const init = await core.init(1, 1);
    await core.unseal(decodeShare(init.keys_base64[0]!));
    let srv = await serve(core, app, { address: "127.0.0.1:0" });
    const root = init.root_token;
    assert.equal(
      (await call(srv.url, "POST", "/v1/sys/mounts/lt", { type: "leasetest" }, root)).status,
      204,
    );
    const keep = (await call(srv.url, "GET", "/v1/lt/creds/rs?ttl=600", undefined, root)).body;
    const soon = (await call(srv.url, "GET", "/v1/lt/creds/rs?ttl=1", undefined, root)).body;
    await srv.shutdown();

    await new Promise((r) => setTimeout(r, 1200));
    ({ core, app } = await createCore(db, { tidyIntervalMs: 0 }));
    await core.unseal(decodeShare(init.keys_base64[0]!));
    srv = await serve(core, app, { address: "127.0.0.1:0" });
    try {
      const l = await call(
        srv.url,
        "PUT",
        "/v1/sys/leases/lookup",
        { lease_id: keep.lease_id },
        root,
      );
      assert.equal(l.status, 200);
      assert.equal(l.body.data.id, keep.lease_id);
      await until("the lease that expired while down", () => revokes(soon.lease_id).length === 1);
      assert.equal(revokes(soon.lease_id)[0]!.lease.internal.name, "rs");
    } finally {
      await srv.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "lease state is stored encrypted: the engine's internal values are not in the database file",
  withCore(async (t) => {
    await mount(t);
    const marker = `lt-marker-${crypto.randomUUID()}`;
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await issue(t, "lt/creds/pt", { marker })).lease_id);
    await t.req("PUT", "/v1/sys/leases/renew", { lease_id: ids[0], increment: 30 });
    const rootAccessor = (await t.req("GET", "/v1/auth/token/lookup-self")).body.data.accessor;
    const blobs = await Promise.all(
      [t.dbFile, `${t.dbFile}-wal`].map((f) => Deno.readFile(f).catch(() => new Uint8Array())),
    );
    const text = blobs.map((b) => new TextDecoder("latin1").decode(b)).join("\n");
    assert.ok(text.length > 10_000, "the database holds the data");
    assert.equal(text.includes(marker), false, "internal state is encrypted");
    // Lease keys name the lease (a path, as Vault's sys/expire/id/...) but only a salted HMAC of
    // the token's accessor: not the accessor, nor its plain hash.
    const keys = await t.core.physical.keys("sys/expire/");
    assert.ok(keys.includes(`sys/expire/id/${ids[0]}`));
    assert.equal(keys.filter((k) => k.startsWith("sys/expire/by-token/")).length, 20);
    assert.equal(keys.some((k) => k.includes(rootAccessor)), false);
    assert.equal(keys.some((k) => k.includes(sha256Hex(rootAccessor))), false);
    // The marker does reach the engine (so the scan above looks for something that exists).
    await t.req("PUT", "/v1/sys/leases/revoke", { lease_id: ids[1] });
    assert.equal(revokes(ids[1]!)[0]!.lease.internal.marker, marker);
  }),
);

Deno.test(
  "credentials answered after the request's deadline are revoked, and hold off an unmount",
  withCore(async (t) => {
    await mount(t);
    const marker = `late-${crypto.randomUUID()}`;
    const g = gate(marker);
    const r = await t.req("GET", `/v1/lt/creds/late?marker=${marker}`);
    assert.equal(r.status, 503, r.text);
    assert.deepEqual(r.body.errors, ["request timed out"]);
    assert.ok(g.entered);
    // The handler still runs: the mount cannot go away under the credentials it may return.
    const u = await t.req("DELETE", "/v1/sys/mounts/lt");
    assert.equal(u.status, 503, u.text);
    assert.deepEqual(u.body.errors, [
      "requests to the mount are still running; try the unmount again",
    ]);
    assert.equal((await issue(t, "lt/creds/other")).renewable, true, "the mount still serves");
    assert.equal(revokesOf(marker).length, 0);
    g.open();
    await until("the late credentials to be revoked", () => revokesOf(marker).length === 1);
    const rv = revokesOf(marker)[0]!;
    assert.equal(rv.lease.path, "creds/late");
    assert.equal(rv.lease.internal.name, "late");
    assert.equal(t.core.leases.count, 1, "only the other read's lease exists");
    assert.equal((await t.req("DELETE", "/v1/sys/mounts/lt")).status, 204);
  }, { requestTimeoutMs: 1000 }),
);

Deno.test(
  "an unmount refuses new requests and waits for the running ones; their credentials are revoked",
  withCore(async (t) => {
    await mount(t);
    const uuid = t.core.mounts.get("lt/")!.uuid;
    const done = await issue(t, "lt/creds/before");
    const marker = `inflight-${crypto.randomUUID()}`;
    const g = gate(marker);
    const inflight = t.req("GET", `/v1/lt/creds/inflight?marker=${marker}`);
    await until("the read to reach the engine", () => g.entered);
    const unmounting = t.req("DELETE", "/v1/sys/mounts/lt");
    await until("the mount to be marked closing", () => t.core.mounts.isClosing(uuid));
    const refused = await t.req("GET", "/v1/lt/creds/after");
    assert.equal(refused.status, 503, refused.text);
    assert.deepEqual(refused.body.errors, ["mount is being removed"]);
    assert.equal(revokes(done.lease_id).length, 0, "leases wait for the running read");
    g.open();
    const [r, u] = await Promise.all([inflight, unmounting]);
    assert.equal(u.status, 204, u.text);
    assert.equal(r.status, 503, r.text);
    assert.deepEqual(r.body.errors, ["mount is being removed"]);
    assert.equal(revokesOf(marker).length, 1, "the in-flight credentials were revoked");
    assert.equal(revokes(done.lease_id).length, 1);
    assert.equal(t.core.leases.count, 0);
    assert.equal(t.core.mounts.isClosing(uuid), false);
    assert.equal((await t.req("GET", "/v1/lt/creds/after")).status, 404);
  }),
);

Deno.test(
  "a request that fails after its lease was stored (response wrapping) revokes that lease",
  withCore(async (t) => {
    await mount(t);
    const marker = `wrapfail-${crypto.randomUUID()}`;
    // A bad wrap TTL is refused before the handler now, so the wrapping itself is made to fail
    // (as a full disk would fail storing the wrapped response).
    const wrapping = t.core.wrapping;
    const wrap = wrapping.wrap;
    wrapping.wrap = () => Promise.reject(new BadRequest("wrap TTL: cannot store the response"));
    let r;
    try {
      r = await t.req("GET", `/v1/lt/creds/wf?marker=${marker}`, undefined, undefined, {
        "x-vault-wrap-ttl": "5m",
      });
    } finally {
      wrapping.wrap = wrap;
    }
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], /wrap TTL/);
    const rv = revokesOf(marker);
    assert.equal(rv.length, 1, "revoked before the error was answered");
    assert.equal((await lookup(t, rv[0]!.lease.leaseId)).status, 400);
    assert.equal(t.core.leases.count, 0);
  }),
);

Deno.test(
  "a lease stored after its token was revoked (mid-request) is revoked at once",
  withCore(async (t) => {
    await mount(t);
    const tok = await readerToken(t);
    const marker = `tokgone-${crypto.randomUUID()}`;
    const g = gate(marker);
    const pending = t.req("GET", `/v1/lt/creds/tg?ttl=600&marker=${marker}`, undefined, tok);
    await until("the read to reach the engine", () => g.entered);
    const rv = await t.req("PUT", "/v1/auth/token/revoke", { token: tok });
    assert.equal(rv.status, 204, rv.text);
    g.open();
    const r = await pending;
    assert.equal(r.status, 200, r.text);
    await until(
      "the lease of the revoked token to be revoked",
      () => revokedOnce(t, r.body.lease_id),
    );
  }),
);

Deno.test(
  "credentials answered after core sealed are revoked through the engine that made them",
  withCore(async (t) => {
    await mount(t);
    const marker = `sealed-${crypto.randomUUID()}`;
    const g = gate(marker);
    const pending = t.req("GET", `/v1/lt/creds/sl?marker=${marker}`);
    await until("the read to reach the engine", () => g.entered);
    assert.equal((await t.req("PUT", "/v1/sys/seal")).status, 204);
    g.open();
    const r = await pending;
    assert.equal(r.status, 503, r.text);
    assert.equal(revokesOf(marker).length, 1);
  }),
);

Deno.test(
  "the periodic tidy revokes a lease whose token is gone",
  withCore(async (t) => {
    await mount(t);
    const tok = await readerToken(t);
    const b = await issue(t, "lt/creds/orphan", { ttl: 600 }, tok);
    // The token goes without telling the lease manager (a crash between the two).
    const hook = t.core.tokens.onRevoked;
    t.core.tokens.onRevoked = null;
    try {
      assert.equal((await t.req("PUT", "/v1/auth/token/revoke", { token: tok })).status, 204);
    } finally {
      t.core.tokens.onRevoked = hook;
    }
    assert.equal(revokes(b.lease_id).length, 0);
    await until("the tidy timer to revoke the orphaned lease", () => revokedOnce(t, b.lease_id));
  }, { tidyIntervalMs: 200 }),
);

Deno.test(
  "a token's leases go when it expires, not at the next tidy, and cannot be renewed after it",
  withCore(async (t) => {
    await mount(t);
    await t.req("PUT", "/v1/sys/policies/acl/reader", {
      policy: `path "lt/creds/*" { capabilities = ["read"] }`,
    });
    const made = await t.req("POST", "/v1/auth/token/create", { policies: ["reader"], ttl: "2s" });
    assert.equal(made.status, 200, made.text);
    const tok = made.body.auth.client_token;
    const kept = await issue(t, "lt/creds/short", { ttl: 600 }, tok);
    const renewed = await issue(t, "lt/creds/short", { ttl: 600 }, tok);
    await until(
      "the token to expire",
      async () => (await t.req("GET", "/v1/auth/token/lookup-self", undefined, tok)).status === 403,
    );
    // No tidy runs in this core (tidyIntervalMs 0): only the token's expiry can revoke these.
    const r = await t.req("PUT", "/v1/sys/leases/renew", { lease_id: renewed.lease_id });
    assert.equal(r.status, 400, r.text);
    assert.equal(
      calls.some((c) => c.op === "renew" && c.lease.leaseId === renewed.lease_id),
      false,
    );
    await until(
      "the lease of the expired token to be revoked",
      () => revokedOnce(t, kept.lease_id),
    );
    await until("the refused lease to be revoked", () => revokedOnce(t, renewed.lease_id));
  }),
);
