/**
 * sys/internal/ui/mounts: the preflight Vault's CLI (and consul-template, Vault Agent) makes
 * before every `kv` command. As in Vault, it needs no rule on itself: a token hears about a mount
 * it can use somewhere inside, and about nothing else.
 */
import assert from "node:assert/strict";
import { call, withTestCore } from "../helpers/test_core.ts";
import { Acl } from "../../core/policy/acl.ts";
import { parsePolicy } from "../../core/policy/parse.ts";

Deno.test("sys/internal/ui/mounts answers a least-privilege token about mounts it can use, only", async () => {
  await withTestCore(async (t) => {
    await call(t, "POST", "sys/mounts/team-b", { type: "kv-v2" }, 204);
    await call(t, "PUT", "sys/policies/acl/kvr", {
      policy: `path "secret/data/app/*" { capabilities = ["read"] }`,
    }, 204);
    const tok = (await call(t, "POST", "auth/token/create", { policies: ["kvr"] })).auth
      .client_token;
    const r = await t.req("GET", "/v1/sys/internal/ui/mounts/secret/app/x", undefined, tok);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.path, "secret/");
    assert.equal(r.body.data.options.version, "2");
    // A mount it has no rule under, no token, a bad token: 403.
    assert.equal(
      (await t.req("GET", "/v1/sys/internal/ui/mounts/team-b/x", undefined, tok)).status,
      403,
    );
    assert.equal(
      (await t.req("GET", "/v1/sys/internal/ui/mounts/secret/x", undefined, null)).status,
      403,
    );
    assert.equal(
      (await t.req("GET", "/v1/sys/internal/ui/mounts/secret/x", undefined, "hvs.nope")).status,
      403,
    );
    // The listing shows only the mounts it can use (the default policy reaches sys/ and
    // cubbyhole/, as in Vault).
    const list = await t.req("GET", "/v1/sys/internal/ui/mounts", undefined, tok);
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(Object.keys(list.body.data.secret).sort(), ["cubbyhole/", "secret/", "sys/"]);
  });
});

Deno.test("Acl.hasAccessUnder() is Vault's hasMountAccess: any grant at or under the mount", () => {
  const acl = (hcl: string) => new Acl([parsePolicy("p", hcl)]);
  const cases: [string, string, boolean][] = [
    [`path "secret/data/app/*" { capabilities = ["read"] }`, "secret/", true],
    [`path "secret/data/app/x" { capabilities = ["read"] }`, "secret/", true],
    [`path "secret/+/app" { capabilities = ["list"] }`, "secret/", true],
    [`path "+/data/*" { capabilities = ["read"] }`, "secret/", true],
    [`path "sec*" { capabilities = ["read"] }`, "secret/", true],
    [`path "other/*" { capabilities = ["read"] }`, "secret/", false],
    [`path "secret/data/*" { capabilities = ["deny"] }`, "secret/", false],
    [`path "secretive/*" { capabilities = ["read"] }`, "secret/", false],
    [`path "s/+/x" { capabilities = ["read"] }`, "secret/", false],
  ];
  for (const [hcl, mount, want] of cases) {
    assert.equal(acl(hcl).hasAccessUnder(mount), want, `${hcl} under ${mount}`);
  }
});
