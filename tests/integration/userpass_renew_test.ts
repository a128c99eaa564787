import assert from "node:assert/strict";
import { call, type TestCore, withTestCore } from "../helpers/test_core.ts";
import { assertRenewalsWithin } from "./userpass_token_params_fixtures.ts";

const USER = {
  password: "pw",
  token_policies: "deploy,read",
  token_ttl: "5m",
  token_max_ttl: "15m",
};

async function loggedIn(
  t: TestCore,
  user: Record<string, unknown> = USER,
): Promise<{ token: string; accessor: string }> {
  await call(t, "POST", "sys/auth/userpass", { type: "userpass" }, 204);
  await call(t, "POST", "auth/userpass/users/al", user, 204);
  const r = await t.req("POST", "/v1/auth/userpass/login/AL", { password: "pw" }, null);
  assert.equal(r.status, 200, r.text);
  return { token: r.body.auth.client_token, accessor: r.body.auth.accessor };
}

Deno.test("auth/token/renew of a userpass login follows the user's TTLs as they are now", async () => {
  await withTestCore(async (t) => {
    const { token, accessor } = await loggedIn(t);
    let r = await t.req("POST", "/v1/auth/token/renew-self", {}, token);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.auth.lease_duration, 300);

    await call(t, "POST", "auth/userpass/users/al", { token_ttl: "1m", token_max_ttl: "3m" }, 204);
    // No increment: the user's token_ttl as it is now, not the one the token was issued with.
    r = await t.req("POST", "/v1/auth/token/renew-self", {}, token);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.auth.lease_duration, 60);
    await assertRenewalsWithin(t, { token, accessor }, 180);
  });
});

Deno.test("auth/token/renew of a userpass login is refused once the user has other policies", async () => {
  await withTestCore(async (t) => {
    const { token } = await loggedIn(t);
    // The password changing is no reason to refuse.
    await call(t, "POST", "auth/userpass/users/al/password", { password: "new" }, 204);
    await call(t, "POST", "auth/userpass/users/al/policies", { policies: "READ, deploy" }, 204);
    assert.equal((await t.req("POST", "/v1/auth/token/renew-self", {}, token)).status, 200);

    await call(t, "POST", "auth/userpass/users/al/policies", { token_policies: "read" }, 204);
    let r = await t.req("POST", "/v1/auth/token/renew-self", {}, token);
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ["policies have changed, not renewing"]);
    r = await t.req("POST", "/v1/auth/token/renew", { token });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ["policies have changed, not renewing"]);
  });
});

Deno.test("auth/token/renew of a userpass login is refused once the user is bound elsewhere", async () => {
  await withTestCore(async (t) => {
    const { token } = await loggedIn(t, { ...USER, token_bound_cidrs: "127.0.0.0/8" });
    await call(t, "POST", "auth/userpass/users/al", { token_bound_cidrs: "10.0.0.0/8" }, 204);
    const r = await t.req("POST", "/v1/auth/token/renew-self", {}, token);
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ["bound CIDRs have changed, not renewing"]);
  });
});

Deno.test("a userpass token from before login/<name> was recorded is renewed under its user too", async () => {
  await withTestCore(async (t) => {
    await loggedIn(t);
    const mount = t.core.auth.list().find((m) => m.path === "auth/userpass/")!;
    // As an earlier release issued it: the mount's bare `login` path.
    const { token } = await t.core.tokens.create({
      policies: ["default", "deploy", "read"],
      parent: null,
      ttl: 300,
      renewable: true,
      path: "auth/userpass/login",
      source: `${mount.uuid}/al`,
    });
    await call(t, "POST", "auth/userpass/users/al/policies", { token_policies: "read" }, 204);
    const r = await t.req("POST", "/v1/auth/token/renew-self", {}, token);
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ["policies have changed, not renewing"]);
  });
});
