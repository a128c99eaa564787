import assert from "node:assert/strict";
import { Barrier } from "../../core/barrier/barrier.ts";
import { Keyring } from "../../core/barrier/keyring.ts";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { compilePaths } from "../../core/router/match.ts";
import { callPath, type Op, rejection } from "../helpers/path_table.ts";
import type { CompiledPath, CoreResponse } from "../../core/router/types.ts";
import { type AuthMethodContext, type LoginGrant, loginRenewHook } from "../../core/auth/types.ts";
import { SlidingLoginLimiter } from "../../core/auth/limiter.ts";
import { userpassFactory } from "../../core/auth/userpass/mod.ts";
import { hashPassword } from "../../core/auth/userpass/password.ts";
import { type StorageView, writeJSON } from "../../engines/sdk.ts";

function call(
  table: CompiledPath[],
  op: Op,
  path: string,
  data: Record<string, unknown> = {},
  remoteAddress = "127.0.0.1",
): Promise<CoreResponse | void> {
  return callPath(table, "auth/userpass/", op, path, data, remoteAddress);
}

interface Harness {
  table: CompiledPath[];
  view: StorageView;
  physical: LibsqlStorage;
  grants: LoginGrant[];
  revoked: string[];
  clock: { t: number };
  /** While `wait` is set, issueToken waits on it (a login caught minting its token). */
  issueGate: { wait: Promise<void> | null; entered: boolean };
}

async function withUserpass(fn: (h: Harness) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const s = await LibsqlStorage.open(`${dir}/up.db`);
  try {
    const b = new Barrier(s);
    b.unsealWith(Keyring.create());
    const view = b.view("auth/up-uuid/");
    const clock = { t: 1_700_000_000_000 };
    const grants: LoginGrant[] = [];
    const revoked: string[] = [];
    const issueGate: Harness["issueGate"] = { wait: null, entered: false };
    const ctx: AuthMethodContext = {
      storage: view,
      mount: {
        path: "auth/userpass/",
        accessor: "auth_userpass_1",
        uuid: "up-uuid",
        type: "userpass",
      },
      now: () => clock.t,
      issueToken: async (grant) => {
        if (issueGate.wait) {
          issueGate.entered = true;
          await issueGate.wait;
        }
        grants.push(grant);
        return Promise.resolve({ client_token: `hvs.t${grants.length}`, policies: grant.policies });
      },
      revokeRole: (role) => {
        revoked.push(role);
        return Promise.resolve();
      },
      limiter: new SlidingLoginLimiter({ now: () => clock.t }),
    };
    const table = compilePaths(userpassFactory(ctx).paths);
    await fn({ table, view, physical: s, grants, revoked, clock, issueGate });
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const PW = "correct horse battery staple";

Deno.test("userpass: a created user logs in and gets a grant with its settings", async () => {
  await withUserpass(async (h) => {
    await call(h.table, "write", "users/Alice", {
      password: PW,
      token_policies: "dev,ops",
      token_ttl: "1h",
      token_max_ttl: 7200,
      token_bound_cidrs: ["127.0.0.0/8"],
    });
    const listed = await call(h.table, "list", "users");
    assert.deepEqual(listed?.data?.keys, ["alice"]);

    const res = await call(h.table, "write", "login/alice", { password: PW });
    assert.equal(res?.auth?.client_token, "hvs.t1");
    assert.deepEqual(h.grants, [{
      role: "alice",
      policies: ["dev", "ops"],
      metadata: { username: "alice" },
      displayName: "userpass-alice",
      ttl: 3600,
      maxTtl: 7200,
      explicitMaxTtl: 0,
      numUses: 0,
      boundCidrs: ["127.0.0.0/8"],
      noDefaultPolicy: false,
      path: "login/alice",
    }]);
  });
});

Deno.test("userpass: the login path's renew hook reloads the user: its limits now, or a refusal", async () => {
  await withUserpass(async (h) => {
    await call(h.table, "write", "users/al", { password: PW, policies: "app", ttl: "20m" });
    const spec = h.table.find((c) => c.spec.pattern === "login/:username")!.spec;
    const hook = loginRenewHook(spec)!;
    const held = { role: "al", policies: ["app", "default"], boundCidrs: [] };
    assert.deepEqual(await hook(held), { ttl: 1200, maxTtl: 0 });
    await call(h.table, "write", "users/al", { max_ttl: "1h", token_explicit_max_ttl: "30m" });
    assert.deepEqual(await hook(held), { ttl: 1200, maxTtl: 1800 });
    // A token that outlived its user (its revoke failed) is not renewed.
    await call(h.table, "delete", "users/al");
    await assert.rejects(hook(held), {
      status: 400,
      message: 'user "al" does not exist during renewal',
    });
  });
});

Deno.test("userpass: a user stored before the full token field set reads and logs in with defaults", async () => {
  await withUserpass(async (h) => {
    await writeJSON(h.view, "users/old", {
      token_policies: ["p"],
      token_ttl: 60,
      token_max_ttl: 0,
      token_bound_cidrs: [],
      password_hash: await hashPassword(PW),
    });
    const read = await call(h.table, "read", "users/old");
    assert.equal(read?.data?.token_num_uses, 0);
    assert.equal(read?.data?.token_explicit_max_ttl, 0);
    assert.equal(read?.data?.token_no_default_policy, false);
    await call(h.table, "write", "login/old", { password: PW });
    const g = h.grants[0]!;
    assert.equal(g.numUses, 0);
    assert.equal(g.explicitMaxTtl, 0);
    assert.equal(g.noDefaultPolicy, false);
    assert.deepEqual(g.policies, ["p"]);
  });
});

Deno.test("userpass: wrong password and unknown user fail alike", async () => {
  await withUserpass(async (h) => {
    await call(h.table, "write", "users/bob", { password: PW });
    const wrong = await rejection(call(h.table, "write", "login/bob", { password: "nope" }));
    const unknown = await rejection(call(h.table, "write", "login/nobody", { password: PW }));
    assert.equal(wrong.status, 400);
    assert.equal(unknown.status, 400);
    assert.deepEqual(wrong.errors, ["invalid credentials"]);
    assert.deepEqual(unknown.errors, wrong.errors);
    assert.equal(h.grants.length, 0);
  });
});

Deno.test("userpass: the password is stored only as a salted scrypt hash", async () => {
  await withUserpass(async (h) => {
    await call(h.table, "write", "users/carol", { password: PW, policies: ["a"] });
    const stored = new TextDecoder().decode((await h.view.get("users/carol"))!);
    assert.equal(stored.includes(PW), false);
    assert.equal(stored.includes("battery"), false);
    const rec = JSON.parse(stored);
    assert.equal(rec.password, undefined);
    assert.equal(rec.password_hash.alg, "scrypt");
    assert.deepEqual([rec.password_hash.n, rec.password_hash.r, rec.password_hash.p], [
      32768,
      8,
      1,
    ]);
    assert.equal(Buffer.from(rec.password_hash.salt, "base64").length, 16);
    assert.equal(Buffer.from(rec.password_hash.hash, "base64").length, 32);

    const raw = (await h.physical.get("auth/up-uuid/users/carol"))!;
    assert.equal(Buffer.from(raw).includes("scrypt"), false, "the record is encrypted at rest");

    const read = await call(h.table, "read", "users/carol");
    assert.deepEqual(read?.data?.token_policies, ["a"]);
    const shown = JSON.stringify(read?.data);
    assert.equal(/password|hash|salt/.test(shown), false, shown);
  });
});

Deno.test("userpass: repeated failures lock the user out with 429 and Retry-After", async () => {
  await withUserpass(async (h) => {
    await call(h.table, "write", "users/dave", { password: PW });
    for (let i = 0; i < 5; i++) {
      const e = await rejection(call(h.table, "write", "login/dave", { password: `guess${i}` }));
      assert.equal(e.status, 400);
    }
    const locked = await rejection(call(h.table, "write", "login/dave", { password: PW }));
    assert.equal(locked.status, 429);
    assert.equal(locked.headers?.["retry-after"], "300");
    assert.equal(h.grants.length, 0, "even the right password is refused while locked");

    h.clock.t += 5 * 60_000;
    await call(h.table, "write", "login/dave", { password: PW });
    assert.equal(h.grants.length, 1);
  });
});

Deno.test("userpass: deleting a user revokes its tokens and ends its logins", async () => {
  await withUserpass(async (h) => {
    await call(h.table, "write", "users/erin", { password: PW });
    await call(h.table, "delete", "users/erin");
    assert.deepEqual(h.revoked, ["erin"]);
    await assert.rejects(() => call(h.table, "read", "users/erin"), { status: 404 });
    const e = await rejection(call(h.table, "write", "login/erin", { password: PW }));
    assert.deepEqual(e.errors, ["invalid credentials"]);
  });
});

Deno.test("userpass: updates keep the password unless given; password and policies paths", async () => {
  await withUserpass(async (h) => {
    await assert.rejects(() => call(h.table, "write", "users/frank", {}), /missing password/);
    await call(h.table, "write", "users/frank", { password: PW });
    await call(h.table, "write", "users/frank", { token_ttl: "10m" });
    await call(h.table, "write", "login/FRANK", { password: PW });
    assert.equal(h.grants[0]!.ttl, 600);

    await call(h.table, "write", "users/frank/password", { password: "new secret" });
    await assert.rejects(() => call(h.table, "write", "login/frank", { password: PW }), {
      status: 400,
    });
    await call(h.table, "write", "users/frank/policies", { policies: "p1,p2" });
    await call(h.table, "write", "login/frank", { password: "new secret" });
    assert.deepEqual(h.grants[1]!.policies, ["p1", "p2"]);
    await assert.rejects(
      () => call(h.table, "write", "users/ghost/password", { password: "x" }),
      /does not exist/,
    );
  });
});

Deno.test("userpass: bad input is a 400 naming the field", async () => {
  await withUserpass(async (h) => {
    await assert.rejects(
      () => call(h.table, "write", "users/x", { password: PW, token_ttl: "soon" }),
      /token_ttl/,
    );
    await assert.rejects(
      () => call(h.table, "write", "users/x", { password: PW, token_bound_cidrs: "10.0.0.0/99" }),
      /token_bound_cidrs/,
    );
    await assert.rejects(
      () => call(h.table, "write", "users/x", { password: PW, token_ttl: 20, token_max_ttl: 10 }),
      /token_max_ttl/,
    );
  });
});

Deno.test("userpass: token_bound_cidrs also limit where the user may log in from", async () => {
  await withUserpass(async (h) => {
    await call(h.table, "write", "users/gina", { password: PW, token_bound_cidrs: "10.0.0.0/8" });
    await assert.rejects(
      () => call(h.table, "write", "login/gina", { password: PW }, "192.168.1.1"),
      { status: 403 },
    );
    await call(h.table, "write", "login/gina", { password: PW }, "10.1.2.3");
    assert.equal(h.grants.length, 1);
  });
});

Deno.test("userpass: a hash with old scrypt parameters still verifies and is upgraded", async () => {
  await withUserpass(async (h) => {
    await call(h.table, "write", "users/hank", { password: PW });
    const rec = JSON.parse(new TextDecoder().decode((await h.view.get("users/hank"))!));
    rec.password_hash = await hashPassword(PW, { n: 2 ** 14, r: 8, p: 1 });
    await h.view.put("users/hank", new TextEncoder().encode(JSON.stringify(rec)));

    await call(h.table, "write", "login/hank", { password: PW });
    const after = JSON.parse(new TextDecoder().decode((await h.view.get("users/hank"))!));
    assert.equal(after.password_hash.n, 2 ** 15);
    await call(h.table, "write", "login/hank", { password: PW });
    assert.equal(h.grants.length, 2);
  });
});

async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("userpass: a user deleted while its login is minting is left with no live token", async () => {
  await withUserpass(async (h) => {
    await call(h.table, "write", "users/ivan", { password: PW });
    let open!: () => void;
    h.issueGate.wait = new Promise<void>((r) => open = r);
    const pending = rejection(call(h.table, "write", "login/ivan", { password: PW }));
    await until(() => h.issueGate.entered);
    // The delete's revoke runs before the login's token exists.
    await call(h.table, "delete", "users/ivan");
    assert.deepEqual(h.revoked, ["ivan"]);
    open();
    const e = await pending;
    assert.equal(e.status, 400);
    assert.deepEqual(e.errors, ["invalid credentials"]);
    assert.deepEqual(h.revoked, ["ivan", "ivan"], "the login revokes what it minted");
  });
});

Deno.test("userpass: a password change racing a policy change keeps both", async () => {
  await withUserpass(async (h) => {
    await call(h.table, "write", "users/judy", { password: PW, token_policies: "old" });
    // The password change starts first and spends its scrypt time while the policies change.
    const pw = call(h.table, "write", "users/judy/password", { password: "new secret" });
    const pol = call(h.table, "write", "users/judy/policies", { token_policies: "new" });
    await Promise.all([pw, pol]);
    const u = await call(h.table, "read", "users/judy");
    assert.deepEqual(u?.data?.token_policies, ["new"]);
    await call(h.table, "write", "login/judy", { password: "new secret" });
    assert.deepEqual(h.grants.at(-1)!.policies, ["new"]);
  });
});

Deno.test("userpass: a hash upgrade does not set back a password changed meanwhile", async () => {
  await withUserpass(async (h) => {
    await call(h.table, "write", "users/kim", { password: PW });
    const rec = JSON.parse(new TextDecoder().decode((await h.view.get("users/kim"))!));
    rec.password_hash = await hashPassword(PW, { n: 2 ** 14, r: 8, p: 1 });
    await h.view.put("users/kim", new TextEncoder().encode(JSON.stringify(rec)));
    // The login's upgrade hashes while the password is changed and the policies too.
    const login = call(h.table, "write", "login/kim", { password: PW });
    const pw = call(h.table, "write", "users/kim/password", { password: "new secret" });
    await call(h.table, "write", "users/kim/policies", { token_policies: "p9" });
    await Promise.all([login, pw]);
    await call(h.table, "write", "login/kim", { password: "new secret" });
    assert.deepEqual(h.grants.at(-1)!.policies, ["p9"]);
  });
});
