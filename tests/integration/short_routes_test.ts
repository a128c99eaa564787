import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";

Deno.test("short routes /v1/secrets/:path map onto KV v2 at secret/ under the same ACL", async () => {
  const t = await startTestCore();
  try {
    let r = await t.req("POST", "/v1/secrets/app/db", { password: "flat-body" });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.version, 1);
    r = await t.req("POST", "/v1/secrets/app/db", {
      data: { password: "vault-shape" },
      options: { cas: 1 },
    });
    assert.equal(r.body.data.version, 2);
    r = await t.req("GET", "/v1/secrets/app/db");
    assert.equal(r.body.data.data.password, "vault-shape");
    assert.equal((await t.req("GET", "/v1/secret/data/app/db")).body.data.metadata.version, 2);
    r = await t.req("LIST", "/v1/secrets/app");
    assert.deepEqual(r.body.data.keys, ["db"]);
    assert.equal((await t.req("DELETE", "/v1/secrets/app/db")).status, 204);
    assert.equal((await t.req("GET", "/v1/secrets/app/db")).status, 404);

    await t.req("PUT", "/v1/sys/policies/acl/ro", {
      policy: `path "secret/data/app/*" { capabilities = ["read"] }`,
    });
    const tok =
      (await t.req("POST", "/v1/auth/token/create", { policies: ["ro"] })).body.auth.client_token;
    assert.equal((await t.req("POST", "/v1/secrets/app/other", { a: "1" }, tok)).status, 403);
  } finally {
    await t.close();
  }
});
