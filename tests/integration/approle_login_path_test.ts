import assert from "node:assert/strict";
import { startTestCore, type TestCore } from "../helpers/test_core.ts";

/** Counts barrier reads of AppRole mount keys (`auth/…`) while `fn` runs. */
async function approleReads(t: TestCore, fn: () => Promise<unknown>): Promise<number> {
  const b = t.core.barrier;
  const get = b.get;
  let n = 0;
  b.get = (key: string) => {
    if (key.startsWith("auth/")) n++;
    return get.call(b, key);
  };
  try {
    await fn();
  } finally {
    b.get = get;
  }
  return n;
}

async function setup(t: TestCore, role: Record<string, unknown>) {
  assert.equal((await t.req("POST", "/v1/sys/auth/approle", { type: "approle" })).status, 204);
  assert.equal((await t.req("POST", "/v1/auth/approle/role/web", role)).status, 204);
  const roleId = (await t.req("GET", "/v1/auth/approle/role/web/role-id")).body.data.role_id;
  const login = (secretId: string) =>
    t.req("POST", "/v1/auth/approle/login", { role_id: roleId, secret_id: secretId }, null);
  const newSecretId = async (): Promise<string> =>
    (await t.req("POST", "/v1/auth/approle/role/web/secret-id", {})).body.data.secret_id;
  return { roleId, login, newSecretId };
}

Deno.test("AppRole repeat login with a reusable secret-id reads no mount keys, yet sees every change", async () => {
  const t = await startTestCore();
  try {
    const { login, newSecretId } = await setup(t, {
      token_policies: "default",
      secret_id_num_uses: 0,
    });
    const sid = await newSecretId();
    assert.equal(
      await approleReads(t, async () => assert.equal((await login(sid)).status, 200)),
      3,
    );
    let r: Awaited<ReturnType<typeof login>> | null = null;
    assert.equal(await approleReads(t, async () => r = await login(sid)), 0);
    assert.equal(r!.status, 200);
    assert.deepEqual(r!.body.auth.policies, ["default"]);
    // The token works like any other.
    const tok = r!.body.auth.client_token;
    assert.equal((await t.req("GET", "/v1/auth/token/lookup-self", undefined, tok)).status, 200);

    // A role change is seen by the very next login.
    assert.equal(
      (await t.req("POST", "/v1/auth/approle/role/web", { token_policies: "web" })).status,
      204,
    );
    r = await login(sid);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.auth.policies, ["default", "web"]);

    // So is destroying the secret-id.
    r = await login(sid);
    assert.equal(r.status, 200);
    assert.equal(
      (await t.req("POST", "/v1/auth/approle/role/web/secret-id/destroy", { secret_id: sid }))
        .status,
      204,
    );
    r = await login(sid);
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.errors, ["invalid credentials"]);
  } finally {
    await t.close();
  }
});

Deno.test("AppRole failed login reads the same keys whether or not the credential was cached", async () => {
  let now = Date.parse("2030-01-01T00:00:00Z");
  const t = await startTestCore({ now: () => now });
  try {
    const { roleId, login, newSecretId } = await setup(t, {
      token_policies: "default",
      secret_id_num_uses: 0,
      secret_id_ttl: "60s",
    });
    const sid = await newSecretId();
    assert.equal((await login(sid)).status, 200);
    assert.equal((await login(sid)).status, 200); // now served from the cache
    now += 61_000;
    let r: Awaited<ReturnType<typeof login>> | null = null;
    const expired = await approleReads(t, async () => r = await login(sid));
    assert.equal(r!.status, 400, "an expired secret-id fails, cached or not");
    const unknown = await approleReads(t, async () => {
      r = await t.req("POST", "/v1/auth/approle/login", {
        role_id: "no-such-role",
        secret_id: sid,
      }, null);
    });
    assert.equal(r!.status, 400);
    const wrong = await approleReads(t, () => login("wrong"));
    assert.deepEqual([expired, unknown, wrong], [3, 3, 3]);
    void roleId;
  } finally {
    await t.close();
  }
});

Deno.test("AppRole single-use login queues the spent use before the token, ahead of either commit", async () => {
  const t = await startTestCore();
  try {
    const { login, newSecretId } = await setup(t, {
      token_policies: "default",
      secret_id_num_uses: 1,
    });
    const sid = await newSecretId();
    const p = t.core.physical;
    const tx = p.transaction;
    const calls: { keys: string[]; settled: boolean }[] = [];
    let spentSettledWhenTokenQueued: boolean | null = null;
    p.transaction = (ops, audit) => {
      const call = { keys: ops.map((o) => `${o.op} ${o.key}`), settled: false };
      if (call.keys.some((k) => k.startsWith("put sys/token/id/"))) {
        spentSettledWhenTokenQueued = calls.find((c) =>
          c.keys.some((k) => k.includes("/secret_id/"))
        )?.settled ?? null;
      }
      calls.push(call);
      const done = tx.call(p, ops, audit);
      done.then(() => call.settled = true, () => {});
      return done;
    };
    let r;
    try {
      r = await login(sid);
    } finally {
      p.transaction = tx;
    }
    assert.equal(r.status, 200, r.text);
    const spend = calls.findIndex((c) =>
      c.keys.some((k) => /^delete auth\/.*\/secret_id\//.test(k))
    );
    const token = calls.findIndex((c) => c.keys.some((k) => k.startsWith("put sys/token/id/")));
    assert.ok(spend >= 0 && token > spend, JSON.stringify(calls));
    assert.equal(spentSettledWhenTokenQueued, false, "the token was queued behind the use");
    // And the use is spent.
    assert.equal((await login(sid)).status, 400);
  } finally {
    await t.close();
  }
});
