import assert from "node:assert/strict";
import { call, type TestCore, withTestCore } from "../helpers/test_core.ts";
import {
  assertLegacyApplied,
  LEGACY_WRITE,
  REFUSED_WRITES,
} from "./userpass_token_params_fixtures.ts";

async function withUserpass(fn: (t: TestCore) => Promise<void>): Promise<void> {
  await withTestCore(async (t) => {
    await call(t, "POST", "sys/auth/userpass", { type: "userpass" }, 204);
    await fn(t);
  });
}

Deno.test("auth/userpass/users takes every Vault token field, legacy names included, and applies them at login", async () => {
  await withUserpass(async (t) => {
    await call(t, "POST", "auth/userpass/users/al", { password: "pw", ...LEGACY_WRITE }, 204);
    const user = (await call(t, "GET", "auth/userpass/users/al")).data;
    assert.equal("password_hash" in user, false);
    const r = await t.req("POST", "/v1/auth/userpass/login/al", { password: "pw" }, null);
    assert.equal(r.status, 200, r.text);
    const looked = await assertLegacyApplied(t, user, r.body.auth);
    // Vault's token path: the login request's own.
    assert.equal(looked.path, "auth/userpass/login/al");

    await call(t, "POST", "auth/userpass/users/al", { bound_cidrs: "10.0.0.0/8" }, 204);
    const refused = await t.req("POST", "/v1/auth/userpass/login/al", { password: "pw" }, null);
    assert.equal(refused.status, 403, refused.text);
  });
});

Deno.test("auth/userpass/users refuses periodic and batch tokens and a field given under both names", async () => {
  await withUserpass(async (t) => {
    for (const [body, message] of REFUSED_WRITES) {
      const r = await t.req("POST", "/v1/auth/userpass/users/u", { password: "pw", ...body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(r.body.errors.join("; "), message);
    }
    assert.equal((await t.req("GET", "/v1/auth/userpass/users/u")).status, 404);
    await call(t, "POST", "auth/userpass/users/u", { password: "pw", token_period: 0 }, 204);
    // Vault's users/:username/policies lets token_policies win instead.
    await call(t, "POST", "auth/userpass/users/u/policies", {
      policies: "a",
      token_policies: "b",
    }, 204);
    assert.deepEqual((await call(t, "GET", "auth/userpass/users/u")).data.token_policies, ["b"]);
  });
});

Deno.test("auth/userpass/users writes warn about the parameters they ignore, as Vault", async () => {
  await withUserpass(async (t) => {
    const r = await t.req("POST", "/v1/auth/userpass/users/u", {
      password: "pw",
      token_policies: "p",
      bogus: 1,
      alias_metadata: "x",
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.warnings, [
      "Endpoint ignored these unrecognized parameters: [alias_metadata bogus]",
    ]);
    const user = (await call(t, "GET", "auth/userpass/users/u")).data;
    assert.deepEqual(user.token_policies, ["p"]);
    assert.equal(user.bogus, undefined);
    await call(t, "POST", "auth/userpass/users/u", { token_ttl: "1m" }, 204);
  });
});

Deno.test("auth/userpass/users read and written back unchanged is accepted (read-modify-write)", async () => {
  await withUserpass(async (t) => {
    await call(t, "POST", "auth/userpass/users/rmw", { password: "pw", ...LEGACY_WRITE }, 204);
    const read = (await call(t, "GET", "auth/userpass/users/rmw")).data;
    assert.equal("policies" in read, false);
    assert.equal("period" in read, false);
    await call(t, "POST", "auth/userpass/users/rmw", read, 204);
    assert.deepEqual((await call(t, "GET", "auth/userpass/users/rmw")).data, read);
    // Both names with equal values, as earlier versions read back.
    await call(t, "POST", "auth/userpass/users/rmw", {
      ...read,
      policies: "p1",
      bound_cidrs: "127.0.0.0/8",
      ttl: 60,
    }, 204);
    assert.deepEqual((await call(t, "GET", "auth/userpass/users/rmw")).data, read);
    // The password still works: a write without one keeps it.
    const r = await t.req("POST", "/v1/auth/userpass/login/rmw", { password: "pw" }, null);
    assert.equal(r.status, 200, r.text);
  });
});
