import assert from "node:assert/strict";
import { call } from "../helpers/test_core.ts";
import { AUD, type JwtCore, mint, withJwtCore } from "./jwt_fixtures.ts";
import { assertRenewRefusedOncePoliciesChange } from "./userpass_token_params_fixtures.ts";

const ROLE = {
  bound_audiences: AUD,
  token_policies: "deploy,read",
  token_ttl: "5m",
  token_max_ttl: "15m",
};

async function loggedIn(j: JwtCore, role = "ci"): Promise<{ token: string; accessor: string }> {
  const r = await j.login(role, await mint(j.k1));
  assert.equal(r.status, 200, r.text);
  return { token: r.body.auth.client_token, accessor: r.body.auth.accessor };
}

Deno.test("auth/token/renew-self of a JWT login follows the role's TTLs as they are now", async () => {
  await withJwtCore(async (j) => {
    const { t } = j;
    await call(t, "POST", "auth/jwt/role/ci", ROLE, 204);
    const { token, accessor } = await loggedIn(j);
    // Unchanged role: no increment means the role's token_ttl, as at login.
    let r = await t.req("POST", "/v1/auth/token/renew-self", {}, token);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.auth.lease_duration, 300);

    // The QA case: the role's max drops from 15m to 3m; a renewal asking for 10m gets at most
    // what is left of 3m since the login.
    await call(t, "POST", "auth/jwt/role/ci", { token_ttl: "1m", token_max_ttl: "3m" }, 204);
    r = await t.req("POST", "/v1/auth/token/renew-self", { increment: "10m" }, token);
    assert.equal(r.status, 200, r.text);
    assert.ok(
      r.body.auth.lease_duration > 0 && r.body.auth.lease_duration <= 180,
      String(r.body.auth.lease_duration),
    );
    // Every way of renewing goes through the role: by token, and by accessor.
    r = await t.req("POST", "/v1/auth/token/renew", { token, increment: "10m" });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.auth.lease_duration <= 180, String(r.body.auth.lease_duration));
    r = await t.req("POST", "/v1/auth/token/renew-accessor", { accessor, increment: "10m" });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.auth.lease_duration <= 180, String(r.body.auth.lease_duration));

    // The auth mount's max as tuned now caps it too.
    await call(t, "POST", "auth/jwt/role/ci", { token_max_ttl: "15m" }, 204);
    await call(t, "POST", "sys/auth/jwt/tune", { max_lease_ttl: "2m" }, 204);
    r = await t.req("POST", "/v1/auth/token/renew-self", { increment: "10m" }, token);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.auth.lease_duration <= 120, String(r.body.auth.lease_duration));
  });
});

Deno.test("auth/token/renew of a JWT login is refused once the role grants other policies", async () => {
  await withJwtCore(async (j) => {
    const { t } = j;
    await call(t, "POST", "auth/jwt/role/ci", ROLE, 204);
    const { token } = await loggedIn(j);
    // Same set, written differently: still the same grant.
    await call(t, "POST", "auth/jwt/role/ci", { token_policies: "READ, deploy" }, 204);
    assert.equal((await t.req("POST", "/v1/auth/token/renew-self", {}, token)).status, 200);

    await assertRenewRefusedOncePoliciesChange(t, "auth/jwt/role/ci", token);
  });
});

Deno.test("auth/token/renew of a JWT login is refused once the role binds other CIDRs", async () => {
  await withJwtCore(async (j) => {
    const { t } = j;
    await call(t, "POST", "auth/jwt/role/ci", ROLE, 204);
    const { token } = await loggedIn(j);
    await call(t, "POST", "auth/jwt/role/ci", { token_bound_cidrs: "10.0.0.0/8" }, 204);
    const r = await t.req("POST", "/v1/auth/token/renew-self", { increment: "10m" }, token);
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ["bound CIDRs have changed, not renewing"]);
  });
});

Deno.test("auth/token/renew of tokens no JWT role issued is not routed to the JWT method", async () => {
  await withJwtCore(async ({ t }) => {
    // A plain token (no auth method) and a userpass login (its own hook, its user unchanged).
    const child = await call(t, "POST", "auth/token/create", { ttl: "5m" });
    let r = await t.req(
      "POST",
      "/v1/auth/token/renew-self",
      { increment: "10m" },
      child.auth.client_token,
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.auth.lease_duration, 600);
    await call(t, "POST", "sys/auth/userpass", { type: "userpass" }, 204);
    await call(t, "POST", "auth/userpass/users/al", { password: "pw", token_max_ttl: "15m" }, 204);
    const l = await call(t, "POST", "auth/userpass/login/al", { password: "pw" }, 200, null);
    r = await t.req("POST", "/v1/auth/token/renew-self", { increment: "10m" }, l.auth.client_token);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.auth.lease_duration, 600);
  });
});
