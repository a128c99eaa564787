import assert from "node:assert/strict";
import { call, type TestCore, withTestCore } from "../helpers/test_core.ts";
import {
  assertLegacyApplied,
  LEGACY_WRITE,
  REFUSED_WRITES,
} from "./userpass_token_params_fixtures.ts";

async function withAppRole(fn: (t: TestCore) => Promise<void>): Promise<void> {
  await withTestCore(async (t) => {
    await call(t, "POST", "sys/auth/approle", { type: "approle" }, 204);
    await fn(t);
  });
}

Deno.test("auth/approle/role takes Vault's legacy token field names and applies them at login", async () => {
  await withAppRole(async (t) => {
    // bound_cidrs is the role's only constraint: dropped, the write would be refused.
    await call(t, "POST", "auth/approle/role/legacy", {
      bind_secret_id: false,
      ...LEGACY_WRITE,
    }, 204);
    const role = (await call(t, "GET", "auth/approle/role/legacy")).data;
    assert.deepEqual(role.secret_id_bound_cidrs, []);
    const roleId = (await call(t, "GET", "auth/approle/role/legacy/role-id")).data.role_id;
    const r = await t.req("POST", "/v1/auth/approle/login", { role_id: roleId }, null);
    assert.equal(r.status, 200, r.text);
    await assertLegacyApplied(t, role, r.body.auth);

    // AppRole's own legacy name still means the secret-id binding, not the token's.
    await call(t, "POST", "auth/approle/role/legacy", { bound_cidr_list: "10.0.0.0/8" }, 204);
    const again = (await call(t, "GET", "auth/approle/role/legacy")).data;
    assert.deepEqual(again.secret_id_bound_cidrs, ["10.0.0.0/8"]);
    assert.deepEqual(again.token_bound_cidrs, ["127.0.0.0/8"]);
  });
});

Deno.test("auth/approle/role refuses periodic and batch tokens and a field given under both names", async () => {
  await withAppRole(async (t) => {
    for (const [body, message] of REFUSED_WRITES) {
      const r = await t.req("POST", "/v1/auth/approle/role/r", body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(r.body.errors.join("; "), message);
    }
    assert.equal((await t.req("GET", "/v1/auth/approle/role/r")).status, 404);
    for (const ok of [{ token_period: 0 }, { period: "0s" }, { token_type: "service" }]) {
      const r = await t.req("POST", "/v1/auth/approle/role/r", ok);
      assert.equal(r.status, 204, `${JSON.stringify(ok)}: ${r.text}`);
    }
  });
});

Deno.test("auth/approle/role writes warn about the parameters they ignore, as Vault", async () => {
  await withAppRole(async (t) => {
    const r = await t.req("POST", "/v1/auth/approle/role/r", {
      token_policies: "p",
      enable_local_secret_ids: true,
      bogus: 1,
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.warnings, [
      "Endpoint ignored these unrecognized parameters: [bogus enable_local_secret_ids]",
    ]);
    const role = (await call(t, "GET", "auth/approle/role/r")).data;
    assert.deepEqual(role.token_policies, ["p"]);
    assert.equal(role.bogus, undefined);
    // A write with nothing to ignore answers as before.
    await call(t, "POST", "auth/approle/role/r", { token_ttl: "1m" }, 204);
  });
});

Deno.test("auth/approle/role read and written back unchanged is accepted (read-modify-write)", async () => {
  await withAppRole(async (t) => {
    await call(t, "POST", "auth/approle/role/rmw", { bind_secret_id: false, ...LEGACY_WRITE }, 204);
    const read = (await call(t, "GET", "auth/approle/role/rmw")).data;
    // As in Vault, whose read shows a legacy name only for a value written under it.
    assert.equal("policies" in read, false);
    assert.equal("period" in read, false);
    await call(t, "POST", "auth/approle/role/rmw", read, 204);
    assert.deepEqual((await call(t, "GET", "auth/approle/role/rmw")).data, read);
    // What earlier versions read back (both names, equal values) is accepted too.
    await call(t, "POST", "auth/approle/role/rmw", {
      ...read,
      policies: ["P1"],
      period: 0,
      ttl: "60s",
      max_ttl: 120,
      num_uses: 1,
      bound_cidrs: ["127.0.0.0/8"],
    }, 204);
    assert.deepEqual((await call(t, "GET", "auth/approle/role/rmw")).data, read);
  });
});
