import assert from "node:assert/strict";
import { BadRequest } from "../../lib/errors.ts";
import { parsePolicy } from "../../core/policy/parse.ts";
import { DEFAULT_POLICY_HCL } from "../../core/policy/defaults.ts";
import { withTestCore } from "../helpers/test_core.ts";
import { writeJSON } from "../../engines/sdk.ts";

/** Vault's templated paths, which SecretHub (no identity store) could only match literally. */
const TEMPLATED = [
  "secret/data/users/{{identity.entity.aliases.auth_jwt_1234.name}}/*",
  "identity/entity/id/{{identity.entity.id}}",
  "secret/data/{{identity.entity.name}}",
  "secret/data/a}}b",
  "secret/data/{{",
];

Deno.test("parsePolicy() refuses a templated path: policy templating is not supported", () => {
  for (const path of TEMPLATED) {
    const hcl = `path "${path}" {\n  capabilities = ["read"]\n}\n`;
    assert.throws(() => parsePolicy("p", hcl), (e: unknown) => {
      assert.ok(e instanceof BadRequest, String(e));
      assert.equal(
        e.message,
        `failed to parse policy: path ${JSON.stringify(path)} (line 1): ` +
          "policy templating is not supported",
      );
      return true;
    });
    const json = JSON.stringify({ path: { [path]: { capabilities: ["read"] } } });
    assert.throws(() => parsePolicy("p", json), /policy templating is not supported/);
  }
  // Single braces are ordinary path characters, as before.
  assert.equal(
    parsePolicy("p", `path "secret/data/{x}" { capabilities = ["read"] }`).rules.length,
    1,
  );
  // The built-in default policy has no template in it.
  assert.ok(parsePolicy("default", DEFAULT_POLICY_HCL).rules.length > 0);
});

Deno.test("sys/policy/:name refuses a templated path with a 400 and stores nothing", async () => {
  await withTestCore(async (t) => {
    const policy = `path "${TEMPLATED[0]}" {\n  capabilities = ["read"]\n}\n`;
    const r = await t.req("PUT", "/v1/sys/policy/tpl", { policy });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], /policy templating is not supported$/);
    assert.equal((await t.req("GET", "/v1/sys/policy/tpl")).status, 404);
  });
});

Deno.test("a templated rule stored before such paths were refused grants nothing and breaks nothing", async () => {
  await withTestCore(async (t) => {
    // What an earlier release accepted and stored.
    const policy = `path "secret/data/{{identity.entity.id}}/*" { capabilities = ["read"] }\n` +
      `path "secret/data/shared/*" { capabilities = ["read"] }\n`;
    await writeJSON(t.core.barrier.view("sys/policy/"), "app", { name: "app", policy });
    await writeJSON(t.core.barrier.view("sys/policy/"), "only", {
      name: "only",
      policy: `path "secret/data/{{identity.entity.name}}" { capabilities = ["read"] }`,
    });
    await t.req("POST", "/v1/secret/data/shared/x", { data: { v: "1" } });
    for (const policies of [["app"], ["only"]]) {
      const c = await t.req("POST", "/v1/auth/token/create", { policies });
      const tok = c.body.auth.client_token;
      assert.equal((await t.req("GET", "/v1/auth/token/lookup-self", undefined, tok)).status, 200);
      const literal = "/v1/secret/data/{{identity.entity.id}}/x";
      assert.equal((await t.req("GET", literal, undefined, tok)).status, 403);
      const shared = await t.req("GET", "/v1/secret/data/shared/x", undefined, tok);
      assert.equal(shared.status, policies[0] === "app" ? 200 : 403, shared.text);
    }
    // Rewriting it as it was is refused, as any new templated rule is.
    const back = await t.req("GET", "/v1/sys/policy/app");
    assert.match(back.body.data.rules, /\{\{identity\.entity\.id\}\}/);
    const r = await t.req("PUT", "/v1/sys/policy/app", { policy: back.body.data.rules });
    assert.equal(r.status, 400);
  });
});
