/**
 * sys/mounts (and sys/auth) answers that Vault clients depend on: the "system" and "" TTLs of
 * enable and tune, the stored-only mount settings read back after a tune (Terraform's vault_mount
 * compares them), and Vault's messages for a missing mount and other unknown names.
 */
import assert from "node:assert/strict";
import { call, type TestCore, withTestCore } from "../helpers/test_core.ts";

/** SecretHub's system max lease TTL (768h), what an untuned mount reports. */
const SYSTEM_MAX = 2764800;

async function ttls(t: TestCore, tunePath: string): Promise<[number, number]> {
  const d = (await call(t, "GET", tunePath)).data;
  return [d.default_lease_ttl, d.max_lease_ttl];
}

async function sealAndUnseal(t: TestCore): Promise<void> {
  await call(t, "PUT", "sys/seal", {}, 204);
  for (const key of t.unsealKeys) await call(t, "PUT", "sys/unseal", { key }, 200, null);
}

Deno.test('sys/mounts/:path/tune takes "system" (the system default) and "" (unchanged) as TTLs', () =>
  withTestCore(async (t) => {
    await call(t, "POST", "sys/mounts/secret/tune", {
      default_lease_ttl: "1h",
      max_lease_ttl: "2h",
    }, 204);
    await call(
      t,
      "POST",
      "sys/mounts/secret/tune",
      { default_lease_ttl: "", max_lease_ttl: "" },
      204,
    );
    assert.deepEqual(await ttls(t, "sys/mounts/secret/tune"), [3600, 7200]);
    await call(t, "POST", "sys/mounts/secret/tune", {
      default_lease_ttl: "system",
      max_lease_ttl: "system",
    }, 204);
    assert.deepEqual(await ttls(t, "sys/mounts/secret/tune"), [SYSTEM_MAX, SYSTEM_MAX]);
    const config = (await call(t, "GET", "sys/mounts/secret")).data.config;
    assert.deepEqual([config.default_lease_ttl, config.max_lease_ttl], [0, 0]);
    // One of them alone: the other keeps its value.
    await call(t, "POST", "sys/mounts/secret/tune", { max_lease_ttl: "2h" }, 204);
    await call(t, "POST", "sys/mounts/secret/tune", { default_lease_ttl: "system" }, 204);
    assert.deepEqual(await ttls(t, "sys/mounts/secret/tune"), [SYSTEM_MAX, 7200]);
    // Anything else is still a duration or a 400.
    const r = await t.req("POST", "/v1/sys/mounts/secret/tune", { default_lease_ttl: "sys" });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], /default_lease_ttl: invalid duration "sys"/);

    // Enable's config takes them too: both are the system's.
    await call(t, "POST", "sys/mounts/systtl", {
      type: "kv-v2",
      config: { default_lease_ttl: "system", max_lease_ttl: "" },
    }, 204);
    assert.deepEqual(await ttls(t, "sys/mounts/systtl/tune"), [SYSTEM_MAX, SYSTEM_MAX]);
  }));

Deno.test('sys/auth/:path/tune takes "system" and "" as TTLs', () =>
  withTestCore(async (t) => {
    await call(t, "POST", "sys/auth/userpass", {
      type: "userpass",
      config: { default_lease_ttl: "system" },
    }, 204);
    await call(t, "POST", "sys/auth/userpass/tune", { default_lease_ttl: "1h" }, 204);
    await call(t, "POST", "sys/auth/userpass/tune", { default_lease_ttl: "" }, 204);
    assert.deepEqual(await ttls(t, "sys/auth/userpass/tune"), [3600, SYSTEM_MAX]);
    await call(t, "POST", "sys/auth/userpass/tune", {
      default_lease_ttl: "system",
      max_lease_ttl: "system",
    }, 204);
    assert.deepEqual(await ttls(t, "sys/auth/userpass/tune"), [SYSTEM_MAX, SYSTEM_MAX]);
  }));

Deno.test("sys/mounts stores and reports listing_visibility, the audit HMAC exemptions and the header lists", () =>
  withTestCore(async (t) => {
    // An entry without any of them (secret/, as every table stored before they existed) shows none.
    assert.deepEqual(Object.keys((await call(t, "GET", "sys/mounts/secret")).data.config).sort(), [
      "default_lease_ttl",
      "force_no_cache",
      "max_lease_ttl",
    ]);

    await call(t, "POST", "sys/mounts/team", {
      type: "kv-v2",
      config: {
        listing_visibility: "unauth",
        audit_non_hmac_request_keys: ["a", "b"],
        // Vault's comma-separated form of a list.
        passthrough_request_headers: "X-One, X-Two",
      },
    }, 204);
    let config = (await call(t, "GET", "sys/mounts/team")).data.config;
    assert.equal(config.listing_visibility, "unauth");
    assert.deepEqual(config.audit_non_hmac_request_keys, ["a", "b"]);
    assert.deepEqual(config.passthrough_request_headers, ["X-One", "X-Two"]);
    assert.equal("audit_non_hmac_response_keys" in config, false);
    assert.equal("allowed_response_headers" in config, false);

    await call(t, "POST", "sys/mounts/team/tune", {
      listing_visibility: "hidden",
      audit_non_hmac_response_keys: ["c"],
      allowed_response_headers: "X-Out",
      passthrough_request_headers: [],
    }, 204);
    let tune = (await call(t, "GET", "sys/mounts/team/tune")).data;
    assert.equal(tune.listing_visibility, "hidden");
    // Left out of the tune: kept.
    assert.deepEqual(tune.audit_non_hmac_request_keys, ["a", "b"]);
    assert.deepEqual(tune.audit_non_hmac_response_keys, ["c"]);
    assert.deepEqual(tune.allowed_response_headers, ["X-Out"]);
    // Emptied: gone, as in Vault's read.
    assert.equal("passthrough_request_headers" in tune, false);
    // In the mount table, so after an unseal too, and in the list as in the mount's read.
    await sealAndUnseal(t);
    config = (await call(t, "GET", "sys/mounts")).data["team/"].config;
    assert.deepEqual(config, (await call(t, "GET", "sys/mounts/team")).data.config);
    assert.equal(config.listing_visibility, "hidden");
    assert.deepEqual(config.audit_non_hmac_response_keys, ["c"]);

    // "" is Vault's default visibility: stored as nothing.
    await call(t, "POST", "sys/mounts/team/tune", { listing_visibility: "" }, 204);
    tune = (await call(t, "GET", "sys/mounts/team/tune")).data;
    assert.equal("listing_visibility" in tune, false);
    assert.deepEqual(tune.audit_non_hmac_request_keys, ["a", "b"]);
  }));

Deno.test("sys/mounts: an unknown listing_visibility is a 400 on enable and tune, and nothing changes", () =>
  withTestCore(async (t) => {
    let r = await t.req("POST", "/v1/sys/mounts/lv", {
      type: "kv-v2",
      config: { listing_visibility: "public" },
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], /config\.listing_visibility: must be "unauth", "hidden" or ""/);
    assert.equal((await call(t, "GET", "sys/mounts")).data["lv/"], undefined);

    await call(t, "POST", "sys/mounts/lv", { type: "kv-v2" }, 204);
    // Vault's values are lower case only.
    r = await t.req("POST", "/v1/sys/mounts/lv/tune", {
      listing_visibility: "UNAUTH",
      description: "changed",
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], /listing_visibility: must be "unauth", "hidden" or ""/);
    const tune = (await call(t, "GET", "sys/mounts/lv/tune")).data;
    assert.equal(tune.description, "");
    assert.equal("listing_visibility" in tune, false);
  }));

Deno.test("sys/mounts: a missing mount is a 400 with Vault's message on read, tune read and tune", () =>
  withTestCore(async (t) => {
    let r = await t.req("GET", "/v1/sys/mounts/nope");
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ["No secret engine mount at nope/"]);
    r = await t.req("GET", "/v1/sys/mounts/nope/tune");
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ['cannot fetch sysview for path "nope/"']);
    r = await t.req("POST", "/v1/sys/mounts/nope/tune", { description: "x" });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ['tune of path "nope/" failed: no mount entry found']);
    // A built-in mount is there but cannot be tuned, as in Vault.
    r = await t.req("POST", "/v1/sys/mounts/cubbyhole/tune", { description: "x" });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ['cannot tune "cubbyhole/"']);
  }));

Deno.test("sys/auth: a missing auth method is a 400 with Vault's message on read and tune read", () =>
  withTestCore(async (t) => {
    let r = await t.req("GET", "/v1/sys/auth/nope");
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ["No auth engine at nope/"]);
    r = await t.req("GET", "/v1/sys/auth/nope/tune");
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ['cannot fetch sysview for path "auth/nope/"']);
    // token/ is listed by sys/auth, so it reads as the others do.
    assert.equal((await call(t, "GET", "sys/auth/token")).data.type, "token");
    assert.equal((await call(t, "GET", "sys/auth/token/tune")).data.max_lease_ttl, SYSTEM_MAX);
  }));

Deno.test("sys/agents, apps and sys/policy-templates: an unknown name is a 404 that says so", () =>
  withTestCore(async (t) => {
    const cases: [string, string, RegExp][] = [
      ["GET", "sys/agents/ghost", /^no agent with id "ghost"$/],
      ["POST", "sys/agents/ghost/suspend", /^no agent with id "ghost"$/],
      ["POST", "sys/agents/ghost/activate", /^no agent with id "ghost"$/],
      ["POST", "sys/agents/ghost/disconnect", /^no agent with id "ghost"$/],
      ["GET", "apps/ghost", /^no application with id or name "ghost"$/],
      ["POST", "apps/ghost", /^no application with id or name "ghost"$/],
      ["POST", "apps/ghost/suspend", /^no application with id or name "ghost"$/],
      ["GET", "sys/policy-templates/ghost", /^no policy template "ghost"$/],
    ];
    for (const [method, path, message] of cases) {
      const r = await t.req(method, `/v1/${path}`, method === "POST" ? {} : undefined);
      assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
      assert.equal(r.body.errors.length, 1, `${method} ${path}: ${r.text}`);
      assert.match(r.body.errors[0], message, `${method} ${path}`);
    }
    // Vault's empty 404s stay: an empty list, a missing policy.
    for (const path of ["apps", "sys/policies/acl/ghost"]) {
      const r = await t.req(path === "apps" ? "LIST" : "GET", `/v1/${path}`);
      assert.equal(r.status, 404, `${path}: ${r.text}`);
      assert.deepEqual(r.body.errors, [], path);
    }
  }));
