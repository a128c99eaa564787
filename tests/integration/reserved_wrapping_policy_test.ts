/**
 * The response-wrapping policy is built in, as in Vault: no stored policy of that name (its rules
 * would reach every wrapping token in circulation), and no other token may be given it.
 */
import assert from "node:assert/strict";
import { call, withTestCore } from "../helpers/test_core.ts";
import { writeJSON } from "../../engines/sdk.ts";

Deno.test("response-wrapping: cannot be written, deleted or assigned; a stored one grants nothing", async () => {
  await withTestCore(async (t) => {
    await call(t, "POST", "secret/data/w", { data: { pw: "wrapped-secret" } });
    for (const path of ["sys/policy/response-wrapping", "sys/policies/acl/Response-Wrapping"]) {
      const r = await t.req("PUT", `/v1/${path}`, {
        policy: `path "secret/*" { capabilities = ["read"] }`,
      });
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.body.errors, ['cannot update "response-wrapping" policy']);
    }
    await call(t, "DELETE", "sys/policies/acl/response-wrapping", undefined, 400);

    // Not on a token (root parent included), nor on an auth method's role or user.
    let r = await t.req("POST", "/v1/auth/token/create", { policies: ["response-wrapping"] });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ['cannot assign policy "response-wrapping"']);
    await call(t, "POST", "sys/auth/approle", { type: "approle" }, 204);
    r = await t.req("POST", "/v1/auth/approle/role/r1", { token_policies: "response-wrapping" });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], /"response-wrapping" policy cannot be given/);

    // One stored before the name was refused: wrapping tokens still reach nothing but unwrap.
    await writeJSON(t.core.barrier.view("sys/policy/"), "response-wrapping", {
      name: "response-wrapping",
      policy: `path "secret/*" { capabilities = ["read"] }`,
      modified: new Date().toISOString(),
      version: 1,
    });
    r = await t.req("GET", "/v1/secret/data/w", undefined, undefined, { "x-vault-wrap-ttl": "60" });
    const wrapping = r.body.wrap_info.token;
    assert.equal((await t.req("GET", "/v1/secret/data/w", undefined, wrapping)).status, 403);
    r = await t.req("POST", "/v1/sys/wrapping/unwrap", undefined, wrapping);
    assert.equal(r.body.data.data.pw, "wrapped-secret");
  });
});
