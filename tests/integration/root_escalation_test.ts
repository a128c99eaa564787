/**
 * Ways a caller with modest rights could end up holding root or widening its own policy: a login
 * whose role or user names the root policy, and a policy written through a template.
 */
import assert from "node:assert/strict";
import { call, withTestCore } from "../helpers/test_core.ts";
import { readJSON, writeJSON } from "../../engines/sdk.ts";

Deno.test("no auth method mints a root token: root refused at role/user writes and at login", async () => {
  await withTestCore(async (t) => {
    await call(t, "POST", "sys/auth/userpass", { type: "userpass" }, 204);
    await call(t, "POST", "sys/auth/approle", { type: "approle" }, 204);
    await call(t, "POST", "sys/auth/jwt", { type: "jwt" }, 204);
    const writes: [string, Record<string, unknown>][] = [
      ["auth/userpass/users/u1", { password: "pw123456789", token_policies: ["root"] }],
      ["auth/userpass/users/u1", { password: "pw123456789", policies: "web, ROOT " }],
      ["auth/approle/role/r1", { token_policies: "root" }],
      ["auth/jwt/role/j1", { bound_audiences: "a", user_claim: "sub", token_policies: ["root"] }],
    ];
    for (const [path, body] of writes) {
      const r = await t.req("POST", `/v1/${path}`, body);
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.match(r.body.errors[0], /"root" policy cannot be given/);
    }
    await call(t, "POST", "auth/userpass/users/u2", {
      password: "pw123456789",
      token_policies: "web",
    }, 204);
    await call(t, "POST", "auth/userpass/users/u2/policies", { token_policies: "root" }, 400);

    // A record that says root all the same (stored before the write check): its login fails.
    const mount = t.core.auth.list().find((m) => m.path === "auth/userpass/")!;
    const view = t.core.barrier.view(`auth/${mount.uuid}/`);
    const rec = (await readJSON<Record<string, unknown>>(view, "users/u2"))!;
    await writeJSON(view, "users/u2", { ...rec, token_policies: ["root"] });
    const r = await t.req("POST", "/v1/auth/userpass/login/u2", { password: "pw123456789" }, null);
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ["auth methods cannot create root tokens"]);
  });
});

Deno.test("sys/policy-templates writes a policy only where sys/policies/acl/<name> would let the caller", async () => {
  await withTestCore(async (t) => {
    await call(t, "PUT", "sys/policies/acl/tmpl", {
      policy: `path "sys/policy-templates/*" { capabilities = ["create", "update"] }
path "sys/policies/acl/team-*" { capabilities = ["create", "update"] }`,
    }, 204);
    await call(t, "PUT", "sys/policies/acl/other", {
      policy: `path "x/*" { capabilities = ["read"] }`,
    }, 204);
    const tok =
      (await call(t, "POST", "auth/token/create", { policies: ["tmpl"] })).auth.client_token;
    const params = {
      path_prefix: "s",
      cidrs: ["0.0.0.0/0"],
      capabilities: ["read", "sudo", "create", "update", "delete", "list"],
    };
    // Its own policy and someone else's: refused, and left as they were.
    for (const name of ["tmpl", "other"]) {
      const before = (await call(t, "GET", `sys/policies/acl/${name}`)).data.policy;
      const r = await t.req("POST", "/v1/sys/policy-templates/ip_restricted", {
        name,
        parameters: params,
      }, tok);
      assert.equal(r.status, 403, r.text);
      assert.equal((await call(t, "GET", `sys/policies/acl/${name}`)).data.policy, before);
    }
    // A name its policy lets it write: allowed.
    const ok = await t.req("POST", "/v1/sys/policy-templates/read_only", {
      name: "team-a",
      parameters: { path_prefix: "secret/data/team-a/" },
    }, tok);
    assert.equal(ok.status, 200, ok.text);
  });
});

Deno.test("policy names are trimmed as well as lowercased, as Vault's", async () => {
  await withTestCore(async (t) => {
    await call(t, "PUT", "sys/policies/acl/%20Trim%20", {
      policy: `path "x/*" { capabilities = ["read"] }`,
    }, 204);
    assert.equal((await call(t, "GET", "sys/policies/acl/trim")).data.name, "trim");
    await call(t, "DELETE", "sys/policies/acl/%20trim", undefined, 204);
    assert.equal((await t.req("GET", "/v1/sys/policies/acl/trim")).status, 404);
    // " default" is the default policy, which cannot be deleted.
    assert.equal((await t.req("DELETE", "/v1/sys/policies/acl/%20default")).status, 400);
  });
});
