import assert from "node:assert/strict";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { Barrier } from "../../core/barrier/barrier.ts";
import { Keyring } from "../../core/barrier/keyring.ts";
import { compilePaths, matchPath } from "../../core/router/match.ts";
import type { CompiledPath, CoreRequest, CoreResponse } from "../../core/router/types.ts";
import { type AuthMethodContext, type LoginGrant, loginRenewHook } from "../../core/auth/types.ts";
import type { Operation, StorageView, WriteOp } from "../../engines/sdk.ts";
import { approleFactory } from "../../core/auth/approle/mod.ts";
import { KeyedLock } from "../../core/auth/approle/lock.ts";
import { loginIdentity } from "../../core/auth/limiter.ts";
import { parseWith } from "../../lib/fields.ts";
import { BadRequest, HttpError, MethodNotAllowed, NotFound } from "../../lib/errors.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const T0 = Date.parse("2030-01-01T00:00:00Z");

/** Counts reads and writes so tests can check that failures do the same storage work. */
class CountingView implements StorageView {
  gets = 0;
  batches = 0;
  constructor(readonly inner: StorageView) {}
  get(k: string) {
    this.gets++;
    return this.inner.get(k);
  }
  put(k: string, v: Uint8Array) {
    this.batches++;
    return this.inner.put(k, v);
  }
  delete(k: string) {
    this.batches++;
    return this.inner.delete(k);
  }
  list(p: string) {
    return this.inner.list(p);
  }
  batch(ops: WriteOp[]) {
    this.batches++;
    return this.inner.batch(ops);
  }
}

/** A counting limiter: `limit` failures per identity, then refusals. */
function testLimiter(limit = 1000) {
  const fails = new Map<string, number>();
  const calls: string[] = [];
  return {
    calls,
    check(_src: string, id: string) {
      calls.push(`check:${id}`);
      const n = fails.get(id) ?? 0;
      return { allowed: n < limit, retryAfter: n < limit ? 0 : 30 };
    },
    fail(_src: string, id: string) {
      calls.push(`fail:${id}`);
      fails.set(id, (fails.get(id) ?? 0) + 1);
    },
    succeed(_src: string, id: string) {
      calls.push(`succeed:${id}`);
      fails.delete(id);
    },
  };
}

interface Harness {
  s: LibsqlStorage;
  b: Barrier;
  view: CountingView;
  table: CompiledPath[];
  grants: { grant: LoginGrant; address: string }[];
  revoked: string[];
  limiter: ReturnType<typeof testLimiter>;
  /** Runs inside issueToken, to stage what happens while a login is in flight. */
  onIssue: (() => Promise<void>) | null;
  advance(seconds: number): void;
  call(
    op: Operation | "write",
    path: string,
    data?: Record<string, unknown>,
    remoteAddress?: string,
  ): Promise<CoreResponse | void>;
  data(op: Operation | "write", path: string, data?: Record<string, unknown>): Promise<Json>;
  login(roleId: string, secretId?: string, address?: string): Promise<CoreResponse | void>;
  role(name: string, body?: Record<string, unknown>): Promise<{ roleId: string }>;
  secret(role: string, body?: Record<string, unknown>): Promise<Json>;
}

async function withAppRole(fn: (h: Harness) => Promise<void>, limit?: number): Promise<void> {
  const dir = await Deno.makeTempDir();
  const s = await LibsqlStorage.open(`${dir}/approle.db`);
  try {
    const b = new Barrier(s);
    b.unsealWith(Keyring.create());
    const view = new CountingView(b.view("auth/x/"));
    let now = T0;
    const grants: Harness["grants"] = [];
    const revoked: string[] = [];
    const limiter = testLimiter(limit);
    const ctx: AuthMethodContext = {
      storage: view,
      mount: { path: "auth/x/", accessor: "auth_approle_1", uuid: "u-1", type: "approle" },
      now: () => now,
      issueToken: async (grant, address) => {
        grants.push({ grant, address });
        await h.onIssue?.();
        return { client_token: `hvs.test${grants.length}`, policies: grant.policies };
      },
      revokeRole: (role) => {
        revoked.push(role);
        return Promise.resolve();
      },
      limiter,
    };
    const method = approleFactory(ctx);
    assert.equal(method.type, "approle");
    const table = compilePaths(method.paths);

    // What the core's pipeline does: route, pick create/update, validate, call.
    const call: Harness["call"] = async (op, path, data = {}, remoteAddress = "10.0.0.1") => {
      const hit = matchPath(table, op === "list" && !path.endsWith("/") ? path + "/" : path);
      if (!hit) throw new NotFound("unsupported path");
      const spec = hit.compiled.spec;
      const base = {
        path,
        params: hit.params,
        data,
        remoteAddress,
        tokenAccessor: "",
        requestId: "r",
      };
      let operation: Operation;
      if (op === "write") {
        const o = spec.operations;
        operation = o.create && o.update && spec.exists
          ? (await spec.exists({ ...base, operation: "update" }) ? "update" : "create")
          : o.update
          ? "update"
          : "create";
      } else operation = op;
      const handler = spec.operations[operation];
      if (!handler) throw new MethodNotAllowed();
      const schema = spec.input?.[operation] ??
        (operation === "create" || operation === "update" ? spec.input?.write : undefined);
      const parsed = schema ? parseWith(schema, data, (m) => new BadRequest(m)) : data;
      const req: CoreRequest = {
        ...base,
        operation,
        data: parsed as Record<string, unknown>,
        token: null,
        clientToken: "",
        headers: new Headers(),
        fullPath: `auth/x/${path}`,
      };
      return await handler(req);
    };
    const h: Harness = {
      s,
      b,
      view,
      table,
      grants,
      revoked,
      limiter,
      onIssue: null,
      advance: (sec) => now += sec * 1000,
      call,
      data: async (op, path, data) => ((await call(op, path, data)) as CoreResponse).data,
      login: (roleId, secretId, address) =>
        call("write", "login", { role_id: roleId, secret_id: secretId }, address),
      role: async (name, body = {}) => {
        await call("write", `role/${name}`, body);
        return { roleId: (await h.data("read", `role/${name}/role-id`)).role_id };
      },
      secret: (role, body = {}) => h.data("write", `role/${role}/secret-id`, body),
    };
    await fn(h);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Asserts an HttpError with this status whose message matches. */
async function rejects(p: Promise<unknown>, status: number, msg?: RegExp): Promise<HttpError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof HttpError, `expected HttpError, got ${e}`);
    assert.equal(e.status, status, e.message);
    if (msg) assert.match(e.message, msg);
    return e;
  }
  assert.fail("expected a rejection");
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

Deno.test("approle: role CRUD, defaults, legacy fields, list", async () => {
  await withAppRole(async (h) => {
    await rejects(h.call("list", "role/"), 404);
    await h.call("write", "role/Web", { policies: "B,a", token_ttl: "1h" });
    const r = await h.data("read", "role/web");
    assert.deepEqual(r.token_policies, ["a", "b"]);
    assert.equal("policies" in r, false); // current names only, as a read written back must be
    assert.equal(r.secret_id_ttl, 600);
    assert.equal(r.secret_id_num_uses, 1);
    assert.equal(r.bind_secret_id, true);
    assert.equal(r.token_ttl, 3600);
    assert.equal(r.token_max_ttl, 0);
    assert.deepEqual(r.secret_id_bound_cidrs, []);
    assert.equal("role_id" in r, false);

    // An update changes only what it sends.
    await h.call("write", "role/web", {
      token_policies: ["c"],
      secret_id_ttl: 30,
      token_max_ttl: "2h",
      secret_id_num_uses: "0",
      bound_cidr_list: "10.0.0.0/8",
    });
    const r2 = await h.data("read", "role/web");
    assert.deepEqual(r2.token_policies, ["c"]);
    assert.equal(r2.token_ttl, 3600);
    assert.equal(r2.token_max_ttl, 7200);
    assert.equal(r2.secret_id_ttl, 30);
    assert.equal(r2.secret_id_num_uses, 0);
    assert.deepEqual(r2.secret_id_bound_cidrs, ["10.0.0.0/8"]);

    await h.call("write", "role/db.reader_1", {});
    assert.deepEqual((await h.data("list", "role/")).keys, ["db.reader_1", "web"]);

    const { role_id } = await h.data("read", "role/web/role-id");
    assert.match(role_id, UUID);

    await h.call("delete", "role/web");
    await rejects(h.call("read", "role/web"), 404);
    await rejects(h.call("read", "role/web/role-id"), 404);
    assert.deepEqual((await h.data("list", "role/")).keys, ["db.reader_1"]);
    assert.deepEqual(h.revoked, ["web"]);
  });
});

Deno.test("approle: bad input and names are 400", async () => {
  await withAppRole(async (h) => {
    await rejects(h.call("write", "role/a b", {}), 400, /invalid role name/);
    await rejects(h.call("write", "role/" + "x".repeat(129), {}), 400, /invalid role name/);
    await rejects(h.call("write", "role/r", { token_ttl: "soon" }), 400, /token_ttl/);
    await rejects(h.call("write", "role/r", { secret_id_num_uses: -1 }), 400, /secret_id_num_uses/);
    await rejects(h.call("write", "role/r", { token_bound_cidrs: "10.0.0.0/33" }), 400, /CIDR/);
    await rejects(h.call("write", "role/r", { bind_secret_id: "maybe" }), 400, /bind_secret_id/);
    await rejects(h.call("write", "role/r", { token_period: "1h" }), 400, /periodic/);
    await rejects(
      h.call("write", "role/r", { token_ttl: "2h", token_max_ttl: "1h" }),
      400,
      /token_max_ttl/,
    );
    await h.role("r");
    await rejects(h.call("write", "role/r/secret-id", { metadata: "not json" }), 400, /metadata/);
    await rejects(h.call("write", "role/r/secret-id", { num_uses: "x" }), 400, /num_uses/);
    await rejects(h.call("write", "role/nope/secret-id", {}), 400, /does not exist/);
    await rejects(h.call("write", "role/r/secret-id/lookup", {}), 400, /secret_id/);
  });
});

Deno.test("approle: a role must keep at least one constraint", async () => {
  await withAppRole(async (h) => {
    await rejects(
      h.call("write", "role/r", { bind_secret_id: false }),
      400,
      /at least one constraint/,
    );
    const { roleId } = await h.role("r", {
      bind_secret_id: false,
      secret_id_bound_cidrs: ["192.168.0.0/16"],
    });
    await rejects(h.call("write", "role/r", { secret_id_bound_cidrs: "" }), 400, /constraint/);
    await h.call("write", "role/r", {
      token_bound_cidrs: "192.168.1.0/24",
      secret_id_bound_cidrs: "",
    });

    // Without a secret-id the CIDRs are the credential: the role-id alone works only from them.
    await rejects(h.login(roleId, undefined, "10.0.0.1"), 400, /^invalid credentials$/);
    const ok = await h.login(roleId, undefined, "192.168.1.7");
    assert.ok(ok?.auth);
  });
});

Deno.test("approle: login returns the core's auth block and the right grant", async () => {
  await withAppRole(async (h) => {
    const { roleId } = await h.role("web", {
      token_policies: "app,ops",
      token_ttl: "20m",
      token_max_ttl: "1h",
      token_explicit_max_ttl: "30m",
      token_num_uses: 5,
      token_no_default_policy: true,
      token_bound_cidrs: ["10.0.0.0/8"],
    });
    const sid = await h.secret("web", {
      metadata: '{"device":"d-17","role_name":"spoof"}',
      token_bound_cidrs: "10.1.0.0/16",
    });
    assert.match(sid.secret_id, UUID);
    assert.match(sid.secret_id_accessor, UUID);
    assert.equal(sid.secret_id_ttl, 600);
    assert.equal(sid.secret_id_num_uses, 1);

    const res = await h.login(roleId, sid.secret_id, "10.1.2.3");
    assert.equal(res?.auth?.client_token, "hvs.test1");
    const { grant, address } = h.grants[0]!;
    assert.equal(address, "10.1.2.3");
    assert.deepEqual(grant, {
      role: "web",
      policies: ["app", "ops"],
      metadata: { device: "d-17", role_name: "web" },
      displayName: "approle",
      ttl: 1200,
      // token_max_ttl stays a max TTL; token_explicit_max_ttl is the token's explicit_max_ttl.
      maxTtl: 3600,
      explicitMaxTtl: 1800,
      numUses: 5,
      boundCidrs: ["10.1.0.0/16"],
      noDefaultPolicy: true,
    });
    // Counted under this mount's uuid, so no other mount or method shares the count.
    const id = loginIdentity("u-1", roleId);
    assert.deepEqual(h.limiter.calls, [`check:${id}`, `succeed:${id}`]);

    // Without its own token_bound_cidrs a secret-id's tokens get the role's.
    await h.call("write", "role/web", { secret_id_num_uses: 0 });
    const sid2 = await h.secret("web", { num_uses: 0 });
    await h.login(roleId, sid2.secret_id, "10.9.9.9");
    assert.deepEqual(h.grants[1]!.grant.boundCidrs, ["10.0.0.0/8"]);
    assert.deepEqual(h.grants[1]!.grant.metadata, { role_name: "web" });
  });
});

Deno.test("approle: the login path's renew hook reloads the role: its limits now, or a refusal", async () => {
  await withAppRole(async (h) => {
    await h.role("web", { token_policies: "app", token_ttl: "20m" });
    const hook = loginRenewHook(h.table.find((c) => c.spec.pattern === "login")!.spec)!;
    const held = { role: "web", policies: ["app", "default"], boundCidrs: [] };
    assert.deepEqual(await hook(held), { ttl: 1200, maxTtl: 0 });
    // The tighter of the two caps, as at login.
    await h.call("write", "role/web", { token_max_ttl: "1h", token_explicit_max_ttl: "30m" });
    assert.deepEqual(await hook(held), { ttl: 1200, maxTtl: 1800 });
    // A token that outlived its role (its revoke failed) is not renewed.
    await h.call("delete", "role/web");
    await rejects(hook(held), 400, /^role "web" does not exist during renewal$/);
  });
});

Deno.test("approle: a single-use secret-id logs in once, also under concurrency", async () => {
  await withAppRole(async (h) => {
    const { roleId } = await h.role("web");
    const sid = await h.secret("web");
    assert.ok(await h.login(roleId, sid.secret_id));
    await rejects(h.login(roleId, sid.secret_id), 400, /^invalid credentials$/);
    // Used up means gone, accessor included.
    await rejects(h.call("list", "role/web/secret-id/"), 404);

    for (let i = 0; i < 5; i++) {
      const race = await h.secret("web");
      const results = await Promise.allSettled([
        h.login(roleId, race.secret_id),
        h.login(roleId, race.secret_id),
      ]);
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    }

    await h.call("write", "role/web", { secret_id_num_uses: 3 });
    const three = await h.secret("web");
    const many = await Promise.allSettled(
      Array.from({ length: 6 }, () => h.login(roleId, three.secret_id)),
    );
    assert.equal(many.filter((r) => r.status === "fulfilled").length, 3);
  });
});

Deno.test("approle: num_uses counts down and shows in lookup", async () => {
  await withAppRole(async (h) => {
    const { roleId } = await h.role("web", { secret_id_num_uses: 5 });
    const sid = await h.secret("web", { num_uses: 2 });
    await rejects(h.call("write", "role/web/secret-id", { num_uses: 6 }), 400, /num_uses/);
    await rejects(h.call("write", "role/web/secret-id", { num_uses: 0 }), 400, /num_uses/);
    h.advance(5);
    await h.login(roleId, sid.secret_id);
    const look = await h.data("write", "role/web/secret-id/lookup", { secret_id: sid.secret_id });
    assert.equal(look.secret_id_num_uses, 1);
    assert.equal(look.last_updated_time, new Date(T0 + 5000).toISOString().replace("Z", "000000Z"));
    await h.login(roleId, sid.secret_id);
    await rejects(h.login(roleId, sid.secret_id), 400, /invalid credentials/);
  });
});

Deno.test("approle: expired secret-ids fail; ttl 0 never expires", async () => {
  await withAppRole(async (h) => {
    const { roleId } = await h.role("web", { secret_id_num_uses: 0 });
    const byRole = await h.secret("web", { num_uses: 0 });
    const short = await h.secret("web", { ttl: "1m", num_uses: 0 });
    await rejects(h.call("write", "role/web/secret-id", { ttl: "11m" }), 400, /ttl/);
    h.advance(59);
    assert.ok(await h.login(roleId, short.secret_id));
    h.advance(1);
    await rejects(h.login(roleId, short.secret_id), 400, /^invalid credentials$/);
    assert.ok(await h.login(roleId, byRole.secret_id));
    h.advance(540);
    await rejects(h.login(roleId, byRole.secret_id), 400, /^invalid credentials$/);

    await h.call("write", "role/web", { secret_id_ttl: 0 });
    const forever = await h.secret("web", { num_uses: 0 });
    const look = await h.data("write", "role/web/secret-id/lookup", {
      secret_id: forever.secret_id,
    });
    assert.equal(look.expiration_time, "0001-01-01T00:00:00Z");
    h.advance(400 * 86400);
    assert.ok(await h.login(roleId, forever.secret_id));

    // tidy removes the two expired ones (and their accessors), keeps the live one.
    const tidy = (await h.call("write", "tidy/secret-id")) as CoreResponse;
    assert.equal(tidy.status, 202);
    assert.equal(tidy.data?.secret_ids_removed, 2);
    assert.deepEqual((await h.data("list", "role/web/secret-id/")).keys, [
      forever.secret_id_accessor,
    ]);
  });
});

Deno.test("approle: CIDR bindings on the role and on the secret-id (IPv4 and IPv6)", async () => {
  await withAppRole(async (h) => {
    const { roleId } = await h.role("v4", {
      secret_id_bound_cidrs: "10.0.0.0/8",
      secret_id_num_uses: 0,
    });
    const a = await h.secret("v4", { num_uses: 0 });
    await rejects(h.login(roleId, a.secret_id, "192.168.1.1"), 400, /^invalid credentials$/);
    await rejects(h.login(roleId, a.secret_id, "not-an-ip"), 400, /^invalid credentials$/);
    assert.ok(await h.login(roleId, a.secret_id, "10.2.3.4"));
    assert.ok(await h.login(roleId, a.secret_id, "::ffff:10.2.3.4"));

    // A secret-id may narrow the role's CIDRs, never widen them.
    await rejects(
      h.call("write", "role/v4/secret-id", { cidr_list: "11.0.0.0/8" }),
      400,
      /subset/,
    );
    await rejects(h.call("write", "role/v4/secret-id", { cidr_list: "0.0.0.0/0" }), 400, /subset/);
    const narrow = await h.secret("v4", { cidr_list: "10.5.0.0/16", num_uses: 0 });
    await rejects(h.login(roleId, narrow.secret_id, "10.6.0.1"), 400, /^invalid credentials$/);
    assert.ok(await h.login(roleId, narrow.secret_id, "10.5.0.1"));

    const v6 = await h.role("v6", { secret_id_num_uses: 0 });
    const b = await h.secret("v6", { cidr_list: ["2001:db8::/32"], num_uses: 0 });
    await rejects(h.login(v6.roleId, b.secret_id, "2001:db9::1"), 400, /^invalid credentials$/);
    await rejects(h.login(v6.roleId, b.secret_id, "10.0.0.1"), 400, /^invalid credentials$/);
    assert.ok(await h.login(v6.roleId, b.secret_id, "2001:db8:0:1::5"));
    assert.ok(await h.login(v6.roleId, b.secret_id, "[2001:db8::7]"));

    // A failed CIDR check does not consume a use.
    const once = await h.secret("v6", { cidr_list: "fd00::/8", num_uses: 1 });
    await rejects(h.login(v6.roleId, once.secret_id, "fe80::1"), 400);
    assert.ok(await h.login(v6.roleId, once.secret_id, "fd12::1"));
  });
});

Deno.test("approle: every login failure is the same error with the same storage work", async () => {
  await withAppRole(async (h) => {
    const { roleId } = await h.role("web", { secret_id_ttl: 60 });
    const { roleId: otherRoleId } = await h.role("other");
    const sid = await h.secret("web");
    const otherSid = await h.secret("other");
    const expiring = await h.secret("web");
    h.advance(30);
    // Warm the salt so every case below starts from the same state.
    await rejects(h.login("warm", "up"), 400);

    const cases: [string, string | undefined, string | undefined][] = [
      ["unknown role_id", "no-such-role-id", sid.secret_id],
      ["wrong secret_id", roleId, "wrong"],
      ["secret_id of another role", roleId, otherSid.secret_id],
      ["role_id of another role", otherRoleId, sid.secret_id],
      ["missing secret_id", roleId, undefined],
      ["missing role_id", undefined, sid.secret_id],
      ["both missing", undefined, undefined],
    ];
    const gets = new Set<number>();
    for (const [label, r, s] of cases) {
      const before = h.view.gets;
      const batches = h.view.batches;
      const e = await rejects(h.login(r!, s), 400);
      assert.deepEqual(e.errors, ["invalid credentials"], label);
      assert.ok(e instanceof BadRequest, label);
      assert.equal(h.view.batches, batches, `${label}: a failure writes nothing`);
      gets.add(h.view.gets - before);
    }
    h.advance(31);
    const before = h.view.gets;
    await rejects(h.login(roleId, expiring.secret_id), 400, /^invalid credentials$/);
    gets.add(h.view.gets - before);
    assert.deepEqual([...gets], [3], "each failure reads the same number of keys");
    assert.ok(h.limiter.calls.filter((c) => c.startsWith("fail:")).length >= cases.length + 1);
    assert.equal(h.grants.length, 0);
  });
});

Deno.test("approle: the limiter is asked first and its refusal is a 429", async () => {
  await withAppRole(async (h) => {
    const { roleId } = await h.role("web");
    const sid = await h.secret("web");
    await rejects(h.login(roleId, "bad"), 400);
    await rejects(h.login(roleId, "bad"), 400);
    const e = await rejects(h.login(roleId, sid.secret_id), 429, /too many login attempts/);
    assert.equal(e.headers?.["retry-after"], "30");
    assert.equal(h.grants.length, 0);
  }, 2);
});

Deno.test("approle: deleting a role revokes its tokens and kills its secret-ids", async () => {
  await withAppRole(async (h) => {
    const { roleId } = await h.role("web", { secret_id_num_uses: 0 });
    const sid = await h.secret("web", { num_uses: 0 });
    await h.secret("web");
    await h.call("write", "role/web/custom-secret-id", { secret_id: "my-custom-secret" });
    assert.ok(await h.login(roleId, sid.secret_id));

    await h.call("delete", "role/web");
    assert.deepEqual(h.revoked, ["web"]);
    await rejects(h.login(roleId, sid.secret_id), 400, /^invalid credentials$/);
    const left = (await h.view.inner.list("secret_id/")).concat(
      await h.view.inner.list("accessor/"),
      await h.view.inner.list("role_id/"),
      await h.view.inner.list("role/"),
    );
    assert.deepEqual(left, []);

    // A new role with the same name and the same (custom) role-id does not revive old secrets.
    await h.role("web", { role_id: roleId, secret_id_num_uses: 0 });
    await rejects(h.login(roleId, sid.secret_id), 400, /^invalid credentials$/);
    await rejects(h.login(roleId, "my-custom-secret"), 400, /^invalid credentials$/);
  });
});

Deno.test("approle: a role deleted during a login leaves no live token", async () => {
  await withAppRole(async (h) => {
    const { roleId } = await h.role("web");
    const sid = await h.secret("web");
    h.onIssue = async () => {
      h.onIssue = null;
      await h.call("delete", "role/web");
    };
    await rejects(h.login(roleId, sid.secret_id), 400, /^invalid credentials$/);
    // Once by the delete, once more for the token issued while it ran.
    assert.deepEqual(h.revoked, ["web", "web"]);
  });
});

Deno.test("approle: custom role_id is unique and moves the index", async () => {
  await withAppRole(async (h) => {
    const { roleId: old } = await h.role("a", { secret_id_num_uses: 0 });
    await h.role("b");
    await h.call("write", "role/a/role-id", { role_id: "device-42" });
    assert.equal((await h.data("read", "role/a/role-id")).role_id, "device-42");
    await rejects(h.call("write", "role/b/role-id", { role_id: "device-42" }), 400, /in use/);
    await rejects(h.call("write", "role/b", { role_id: "device-42" }), 400, /in use/);
    await rejects(h.call("write", "role/a/role-id", { role_id: "" }), 400, /role_id/);
    const sid = await h.secret("a", { num_uses: 0 });
    await rejects(h.login(old, sid.secret_id), 400, /^invalid credentials$/);
    assert.ok(await h.login("device-42", sid.secret_id));
  });
});

Deno.test("approle: secret-id lookup, list and destroy by value and by accessor", async () => {
  await withAppRole(async (h) => {
    const { roleId } = await h.role("web", { secret_id_num_uses: 0 });
    const a = await h.secret("web", { metadata: { env: "prod" }, cidr_list: "10.0.0.0/8" });
    const b = await h.secret("web");
    const c = (await h.call("write", "role/web/custom-secret-id", {
      secret_id: "custom-value-1",
      ttl: 120,
    }) as CoreResponse).data!;
    assert.equal(c.secret_id, "custom-value-1");
    assert.equal(c.secret_id_ttl, 120);
    await rejects(
      h.call("write", "role/web/custom-secret-id", { secret_id: "custom-value-1" }),
      400,
      /already registered/,
    );

    const keys = (await h.data("list", "role/web/secret-id")).keys;
    assert.deepEqual(
      keys,
      [a.secret_id_accessor, b.secret_id_accessor, c.secret_id_accessor].sort(),
    );

    const byValue = await h.data("write", "role/web/secret-id/lookup", { secret_id: a.secret_id });
    const byAcc = await h.data("write", "role/web/secret-id-accessor/lookup", {
      secret_id_accessor: a.secret_id_accessor,
    });
    assert.deepEqual(byValue, byAcc);
    assert.deepEqual(byValue.metadata, { env: "prod" });
    assert.deepEqual(byValue.cidr_list, ["10.0.0.0/8"]);
    assert.equal(byValue.secret_id_accessor, a.secret_id_accessor);
    assert.equal(byValue.secret_id_ttl, 600);
    assert.equal(byValue.creation_time, "2030-01-01T00:00:00.000000000Z");
    assert.equal(byValue.expiration_time, "2030-01-01T00:10:00.000000000Z");
    assert.equal(JSON.stringify(byValue).includes(a.secret_id), false);
    assert.equal("secret_id" in byValue, false);

    // Unknown values answer 204; unknown accessors 404.
    assert.equal(
      await h.call("write", "role/web/secret-id/lookup", { secret_id: "nope" }),
      undefined,
    );
    await rejects(
      h.call("write", "role/web/secret-id-accessor/lookup", { secret_id_accessor: "nope" }),
      404,
    );
    await rejects(
      h.call("write", "role/web/secret-id-accessor/lookup", { secret_id_accessor: "../x/y" }),
      404,
    );

    await h.call("write", "role/web/secret-id/destroy", { secret_id: a.secret_id });
    await rejects(h.login(roleId, a.secret_id), 400, /invalid credentials/);
    await h.call("delete", "role/web/secret-id-accessor/destroy", {
      secret_id_accessor: b.secret_id_accessor,
    });
    await rejects(h.login(roleId, b.secret_id), 400, /invalid credentials/);
    assert.deepEqual((await h.data("list", "role/web/secret-id")).keys, [c.secret_id_accessor]);
    assert.ok(await h.login(roleId, "custom-value-1"));
  });
});

Deno.test("approle: storage never holds a raw secret-id; role-ids only inside the role", async () => {
  await withAppRole(async (h) => {
    const { roleId } = await h.role("web", { secret_id_num_uses: 0 });
    await h.call("write", "role/web/role-id", { role_id: "ROLEID-marker-7f3a" });
    const secrets = [
      (await h.secret("web", { num_uses: 2 })).secret_id,
      (await h.secret("web", { num_uses: 0 })).secret_id,
      "CUSTOM-marker-9b1c",
    ];
    await h.call("write", "role/web/custom-secret-id", { secret_id: secrets[2], num_uses: 3 });
    for (const s of secrets) await h.login("ROLEID-marker-7f3a", s);
    await rejects(h.login(roleId, secrets[0]), 400);

    const all = await h.s.keys("");
    assert.ok(all.some((k) => k.startsWith("auth/x/secret_id/web/")));
    // The role-id is readable through the API (role-id read), so the role record may hold it;
    // only key names, which are not encrypted, must not.
    const needles = [...secrets, "ROLEID-marker-7f3a"];
    for (const key of all) {
      const raw = Buffer.from((await h.s.get(key))!);
      const plain = new TextDecoder().decode(await h.b.get(key) ?? new Uint8Array());
      for (const n of needles) {
        assert.equal(key.includes(n), false, `key ${key} contains ${n}`);
        assert.equal(raw.includes(n), false, `raw value of ${key} contains ${n}`);
      }
      for (const n of secrets) {
        assert.equal(plain.includes(n), false, `decrypted value of ${key} contains ${n}`);
      }
    }
    // The salt is per mount and random: it is stored, but behind the barrier.
    assert.ok(all.includes("auth/x/salt"));
  });
});

Deno.test("approle: only login is unauthenticated", async () => {
  await withAppRole((h) => {
    const method = approleFactory({
      storage: h.view,
      mount: { path: "auth/y/", accessor: "a", uuid: "u", type: "approle" },
      now: Date.now,
      issueToken: () => Promise.resolve({}),
      revokeRole: () => Promise.resolve(),
      limiter: testLimiter(),
    });
    const open = method.paths.filter((p) => p.unauthenticated).map((p) => p.pattern);
    assert.deepEqual(open, ["login"]);
    return Promise.resolve();
  });
});

Deno.test("KeyedLock serialises per key and drains", async () => {
  const lock = new KeyedLock();
  const order: string[] = [];
  const step = (tag: string, ms: number) =>
    lock.run("k", async () => {
      order.push(`${tag}<`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`>${tag}`);
    });
  const both = lock.runAll(["k", "j"], () => {
    order.push("c");
    return Promise.resolve();
  });
  await Promise.all([step("a", 10), step("b", 0), both]);
  assert.deepEqual(order, ["a<", ">a", "b<", ">b", "c"]);
  assert.equal(lock.size, 0);
});
