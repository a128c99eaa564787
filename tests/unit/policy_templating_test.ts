import assert from "node:assert/strict";
import { BadRequest } from "../../lib/errors.ts";
import { parsePolicy } from "../../core/policy/parse.ts";
import { DEFAULT_POLICY_HCL } from "../../core/policy/defaults.ts";
import { withTestCore } from "../helpers/test_core.ts";

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
