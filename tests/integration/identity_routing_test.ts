/**
 * The identity builtins live under reserved nested prefixes: a user may mount a PKI engine at
 * "pki/" beside them, longest-prefix routing keeps pki/app/* and pki/agent/* for the builtins, and
 * nobody may mount at or under those prefixes.
 */
import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";
import { call } from "./identity_fixtures.ts";

Deno.test("mounts: pki/ can be mounted beside pki/app/ and pki/agent/; each path reaches its owner", async () => {
  const t = await startTestCore();
  try {
    await call(t, "POST", "sys/mounts/pki", { type: "pki" }, 204);
    await call(t, "POST", "pki/root/generate/internal", { common_name: "User CA" });
    await call(t, "POST", "pki/roles/web", {
      allowed_domains: ["example.com"],
      allow_subdomains: true,
      // The root and the leaf both default to 768h: end the leaf with the root, not refuse it.
      leaf_not_after_behavior: "truncate",
    }, 204);
    const leaf = (await call(t, "POST", "pki/issue/web", { common_name: "a.example.com" })).data;
    assert.match(leaf.issuing_ca, /BEGIN CERTIFICATE/);

    const userCa = (await t.req("GET", "/v1/pki/ca/pem", undefined, null)).text;
    const appCa = (await t.req("GET", "/v1/pki/app/ca", undefined, null)).text;
    const agentCa = (await t.req("GET", "/v1/pki/agent/ca", undefined, null)).text;
    assert.notEqual(userCa.trim(), appCa.trim());
    assert.equal(appCa, agentCa);
    // The builtin answered, not the engine: the engine has no "app/issue" path (it would 404).
    const issue = await t.req(
      "POST",
      "/v1/pki/app/issue",
      { bootstrap_token: "x", csr: "y" },
      null,
    );
    assert.equal(issue.status, 400);
    assert.match(issue.body.errors[0], /CSR/);

    for (const p of ["pki/app", "pki/app/sub", "pki/agent"]) {
      const r = await t.req("POST", `/v1/sys/mounts/${p}`, { type: "kv" });
      assert.ok(r.status === 400 || r.status === 409, `${p}: ${r.status}`);
    }
    assert.equal((await t.req("POST", "/v1/sys/mounts/apps", { type: "kv" })).status >= 400, true);
    // Unmounting pki/ leaves the builtins alone.
    await call(t, "DELETE", "sys/mounts/pki", undefined, 204);
    assert.equal((await t.req("GET", "/v1/pki/app/ca", undefined, null)).status, 200);
    assert.equal((await t.req("GET", "/v1/pki/ca/pem", undefined, null)).status, 404);
  } finally {
    await t.close();
  }
});
