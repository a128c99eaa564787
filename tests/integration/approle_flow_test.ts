import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";

Deno.test("AppRole over HTTP: wrapped secret-id → login → policy-scoped token; role deletion revokes", async () => {
  const t = await startTestCore();
  try {
    assert.equal((await t.req("POST", "/v1/sys/auth/approle", { type: "approle" })).status, 204);
    let r = await t.req("GET", "/v1/sys/auth");
    assert.equal(r.body.data["approle/"].type, "approle");
    assert.equal(r.body["token/"].type, "token");
    await t.req("PUT", "/v1/sys/policies/acl/web", {
      policy: `path "secret/data/web/*" { capabilities = ["read"] }`,
    });
    await t.req("POST", "/v1/secret/data/web/db", { data: { password: "pw" } });
    r = await t.req("POST", "/v1/auth/approle/role/web", {
      token_policies: "web",
      token_ttl: "10m",
      token_max_ttl: "30m",
    });
    assert.equal(r.status, 204, r.text);
    const roleId = (await t.req("GET", "/v1/auth/approle/role/web/role-id")).body.data.role_id;

    // The secret-id travels wrapped.
    r = await t.req("POST", "/v1/auth/approle/role/web/secret-id", {}, undefined, {
      "x-vault-wrap-ttl": "60s",
    });
    assert.equal(r.body.data, null);
    const unwrapped = await t.req(
      "POST",
      "/v1/sys/wrapping/unwrap",
      undefined,
      r.body.wrap_info.token,
    );
    const secretId = unwrapped.body.data.secret_id;
    assert.ok(secretId);

    r = await t.req(
      "POST",
      "/v1/auth/approle/login",
      { role_id: roleId, secret_id: secretId },
      null,
    );
    assert.equal(r.status, 200, r.text);
    const auth = r.body.auth;
    assert.deepEqual(auth.policies, ["default", "web"]);
    assert.equal(auth.metadata.role_name, "web");
    assert.equal(auth.lease_duration, 600);
    assert.equal(auth.orphan, true);
    assert.equal(
      (await t.req("GET", "/v1/secret/data/web/db", undefined, auth.client_token)).status,
      200,
    );
    assert.equal(
      (await t.req("POST", "/v1/secret/data/web/db", { data: { x: "1" } }, auth.client_token))
        .status,
      403,
    );

    // Default secret_id_num_uses = 1: a second login with it fails, with the one generic error.
    r = await t.req(
      "POST",
      "/v1/auth/approle/login",
      { role_id: roleId, secret_id: secretId },
      null,
    );
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.errors, ["invalid credentials"]);
    r = await t.req("POST", "/v1/auth/approle/login", { role_id: "nope", secret_id: "nope" }, null);
    assert.deepEqual(r.body.errors, ["invalid credentials"]);

    // Renewal never passes token_max_ttl (30m).
    r = await t.req("POST", "/v1/auth/token/renew-self", { increment: "10h" }, auth.client_token);
    assert.ok(r.body.auth.lease_duration <= 1800, String(r.body.auth.lease_duration));

    // Failed logins are audited; the secret-id never appears raw in the audit data.
    const rows = [...t.core.physical.auditRows()];
    assert.ok(rows.some((x) => x.entry.path === "auth/approle/login" && x.entry.status === 400));
    assert.equal(JSON.stringify(rows).includes(secretId), false);

    // Deleting the role revokes its tokens.
    assert.equal((await t.req("DELETE", "/v1/auth/approle/role/web")).status, 204);
    assert.equal(
      (await t.req("GET", "/v1/auth/token/lookup-self", undefined, auth.client_token)).status,
      403,
    );

    // Disabling the mount removes its routes.
    assert.equal((await t.req("DELETE", "/v1/sys/auth/approle")).status, 204);
    assert.equal(
      (await t.req("POST", "/v1/auth/approle/login", { role_id: roleId }, null)).status,
      404,
    );
  } finally {
    await t.close();
  }
});

Deno.test("AppRole login is rate limited per source with 429 and Retry-After", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/sys/auth/approle", { type: "approle" });
    await t.req("POST", "/v1/auth/approle/role/r", { token_policies: "default" });
    const roleId = (await t.req("GET", "/v1/auth/approle/role/r/role-id")).body.data.role_id;
    let last = 0;
    let retry: string | null = null;
    for (let i = 0; i < 30 && last !== 429; i++) {
      const r = await t.req("POST", "/v1/auth/approle/login", {
        role_id: roleId,
        secret_id: `bad-${i}`,
      }, null);
      last = r.status;
      retry = r.headers.get("retry-after");
    }
    assert.equal(last, 429);
    assert.ok(Number(retry) >= 1);
  } finally {
    await t.close();
  }
});

Deno.test("AppRole tokens: token_max_ttl caps them without being explicit_max_ttl", async () => {
  const t = await startTestCore();
  try {
    assert.equal((await t.req("POST", "/v1/sys/auth/approle", { type: "approle" })).status, 204);
    const login = async (role: string, settings: Record<string, unknown>) => {
      let r = await t.req("POST", `/v1/auth/approle/role/${role}`, {
        bind_secret_id: false,
        secret_id_bound_cidrs: "127.0.0.1/32",
        ...settings,
      });
      assert.equal(r.status, 204, r.text);
      const roleId =
        (await t.req("GET", `/v1/auth/approle/role/${role}/role-id`)).body.data.role_id;
      r = await t.req("POST", "/v1/auth/approle/login", { role_id: roleId }, null);
      assert.equal(r.status, 200, r.text);
      const tok = r.body.auth.client_token;
      return (await t.req("GET", "/v1/auth/token/lookup-self", undefined, tok)).body.data;
    };
    const a = await login("a", { token_ttl: "60s", token_max_ttl: "120s" });
    assert.equal(a.explicit_max_ttl, 0);
    assert.equal(a.creation_ttl, 60);
    const b = await login("b", { token_ttl: "60s", token_explicit_max_ttl: "90s" });
    assert.equal(b.explicit_max_ttl, 90);
  } finally {
    await t.close();
  }
});
