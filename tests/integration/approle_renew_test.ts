import assert from "node:assert/strict";
import { call, type TestCore, withTestCore } from "../helpers/test_core.ts";
import {
  assertRenewalsWithin,
  assertRenewRefusedOncePoliciesChange,
} from "./userpass_token_params_fixtures.ts";

const ROLE = { token_policies: "deploy,read", token_ttl: "5m", token_max_ttl: "15m" };

/** Creates (or updates) `role` and logs in with one of its secret-ids. */
async function loggedIn(
  t: TestCore,
  role: Record<string, unknown> = ROLE,
  secretId: Record<string, unknown> = {},
): Promise<{ token: string; accessor: string }> {
  await call(t, "POST", "auth/approle/role/app", role, 204);
  const roleId = (await call(t, "GET", "auth/approle/role/app/role-id")).data.role_id;
  const sid = (await call(t, "POST", "auth/approle/role/app/secret-id", secretId)).data.secret_id;
  const r = await t.req(
    "POST",
    "/v1/auth/approle/login",
    { role_id: roleId, secret_id: sid },
    null,
  );
  assert.equal(r.status, 200, r.text);
  return { token: r.body.auth.client_token, accessor: r.body.auth.accessor };
}

async function withAppRole(fn: (t: TestCore) => Promise<void>): Promise<void> {
  await withTestCore(async (t) => {
    await call(t, "POST", "sys/auth/approle", { type: "approle" }, 204);
    await fn(t);
  });
}

Deno.test("auth/token/renew of an AppRole login follows the role's TTLs as they are now", async () => {
  await withAppRole(async (t) => {
    const { token, accessor } = await loggedIn(t);
    let r = await t.req("POST", "/v1/auth/token/renew-self", {}, token);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.auth.lease_duration, 300);

    await call(t, "POST", "auth/approle/role/app", { token_ttl: "1m", token_max_ttl: "3m" }, 204);
    // No increment: the role's token_ttl as it is now, not the one the token was issued with.
    r = await t.req("POST", "/v1/auth/token/renew-self", {}, token);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.auth.lease_duration, 60);
    await assertRenewalsWithin(t, { token, accessor }, 180);
  });
});

Deno.test("auth/token/renew of an AppRole login is refused once the role grants other policies", async () => {
  await withAppRole(async (t) => {
    const { token } = await loggedIn(t);
    // Same set, written differently: still the same grant.
    await call(t, "POST", "auth/approle/role/app", { policies: "READ, deploy" }, 204);
    assert.equal((await t.req("POST", "/v1/auth/token/renew-self", {}, token)).status, 200);

    await assertRenewRefusedOncePoliciesChange(t, "auth/approle/role/app", token);
  });
});

Deno.test("auth/token/renew of an AppRole login is refused once the role's CIDRs no longer cover the token", async () => {
  await withAppRole(async (t) => {
    // The secret-id binds the token more narrowly than the role: that is within the role.
    const { token } = await loggedIn(t, { ...ROLE, token_bound_cidrs: "127.0.0.0/8" }, {
      token_bound_cidrs: "127.0.0.1/32",
    });
    let r = await t.req("POST", "/v1/auth/token/renew-self", {}, token);
    assert.equal(r.status, 200, r.text);
    // Wider still covers it.
    await call(t, "POST", "auth/approle/role/app", { token_bound_cidrs: "127.0.0.0/7" }, 204);
    r = await t.req("POST", "/v1/auth/token/renew-self", {}, token);
    assert.equal(r.status, 200, r.text);

    await call(t, "POST", "auth/approle/role/app", { token_bound_cidrs: "10.0.0.0/8" }, 204);
    r = await t.req("POST", "/v1/auth/token/renew-self", {}, token);
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ["bound CIDRs have changed, not renewing"]);
  });
});

Deno.test("auth/token/renew of an AppRole login without CIDRs is refused once the role binds some", async () => {
  await withAppRole(async (t) => {
    const { token } = await loggedIn(t);
    await call(t, "POST", "auth/approle/role/app", { token_bound_cidrs: "127.0.0.0/8" }, 204);
    const r = await t.req("POST", "/v1/auth/token/renew-self", {}, token);
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ["bound CIDRs have changed, not renewing"]);
  });
});
