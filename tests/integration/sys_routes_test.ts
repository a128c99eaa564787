import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";

Deno.test("policy parameter rules are enforced on writes", async () => {
  const t = await startTestCore();
  try {
    await t.req("PUT", "/v1/sys/policies/acl/p", {
      policy: `path "auth/token/create" {
        capabilities = ["update"]
        denied_parameters = { "no_parent" = [] }
      }`,
    });
    const tok =
      (await t.req("POST", "/v1/auth/token/create", { policies: ["p"] })).body.auth.client_token;
    assert.equal(
      (await t.req("POST", "/v1/auth/token/create", { policies: ["p"] }, tok)).status,
      200,
    );
    const r = await t.req(
      "POST",
      "/v1/auth/token/create",
      { policies: ["p"], no_parent: true },
      tok,
    );
    assert.equal(r.status, 403);
    assert.match(r.body.errors.join(" "), /no_parent/);
  } finally {
    await t.close();
  }
});

Deno.test("sys/mounts: enable, list, tune, read through, disable removes the data", async () => {
  const t = await startTestCore();
  try {
    let r = await t.req("POST", "/v1/sys/mounts/team-a", {
      type: "kv",
      options: { version: "2" },
      description: "team A",
    });
    assert.equal(r.status, 204);
    r = await t.req("POST", "/v1/sys/mounts/team-a", { type: "kv-v2" });
    assert.equal(r.status, 409);
    r = await t.req("POST", "/v1/sys/mounts/sys2/x", { type: "nope" });
    assert.equal(r.status, 400);
    r = await t.req("GET", "/v1/sys/mounts");
    assert.equal(r.body.data["team-a/"].type, "kv");
    assert.equal(r.body.data["team-a/"].options.version, "2");
    assert.equal(r.body["secret/"].type, "kv"); // top-level injection, as Vault does
    r = await t.req("GET", "/v1/sys/internal/ui/mounts/team-a/some/secret");
    assert.equal(r.body.data.path, "team-a/");
    assert.equal(r.body.data.options.version, "2");
    await t.req("POST", "/v1/team-a/data/x", { data: { v: "1" } });
    assert.equal((await t.req("GET", "/v1/team-a/data/x")).body.data.data.v, "1");
    assert.equal((await t.req("GET", "/v1/secret/data/x")).status, 404); // mounts are isolated
    r = await t.req("POST", "/v1/sys/mounts/team-a/tune", {
      default_lease_ttl: "1h",
      description: "A",
    });
    assert.equal(r.status, 204);
    r = await t.req("GET", "/v1/sys/mounts/team-a/tune");
    assert.equal(r.body.data.default_lease_ttl, 3600);
    assert.equal((await t.req("DELETE", "/v1/sys/mounts/team-a")).status, 204);
    assert.equal((await t.req("GET", "/v1/team-a/data/x")).status, 404);
    const keys = await t.core.physical.keys("logical/");
    assert.ok(keys.every((k) => !k.includes("team-a")));
    // The mount table survives a seal/unseal.
    await t.req("POST", "/v1/sys/mounts/team-b", { type: "kv" });
    await t.req("PUT", "/v1/sys/seal");
    await t.req("PUT", "/v1/sys/unseal", { key: t.unsealKeys[0] }, null);
    assert.equal((await t.req("GET", "/v1/sys/mounts")).body.data["team-b/"].type, "kv");
  } finally {
    await t.close();
  }
});

Deno.test("sys/metrics serves Prometheus text that counts requests", async () => {
  const t = await startTestCore();
  try {
    await t.req("GET", "/v1/secret/data/none");
    await t.req("GET", "/v1/secret/data/none");
    // Methods nobody serves share one label, so clients cannot grow the series without bound.
    for (const m of ["FOO", "BAR"]) {
      assert.equal((await fetch(`${t.url}/v1/secret/data/x`, { method: m })).status, 405);
    }
    const r = await fetch(`${t.url}/v1/sys/metrics?format=prometheus`, {
      headers: { "x-vault-token": t.rootToken },
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /text\/plain/);
    const text = await r.text();
    assert.match(text, /secrethub_core_unsealed 1/);
    assert.match(
      text,
      /secrethub_http_requests_total\{method="GET",route="kv:data\/:path\+",status="404"\} 2/,
    );
    assert.match(
      text,
      /secrethub_http_requests_total\{method="OTHER",route="[^"]*",status="405"\} 2/,
    );
    assert.doesNotMatch(text, /method="FOO"/);
    assert.match(text, /secrethub_http_request_duration_seconds_bucket/);
    const j = await t.req("GET", "/v1/sys/metrics");
    assert.ok(Array.isArray(j.body.Gauges));
    // Metrics need a token with access.
    assert.equal(
      (await t.req("GET", "/v1/sys/metrics?format=prometheus", undefined, null)).status,
      403,
    );
  } finally {
    await t.close();
  }
});

Deno.test("LIST verb and ?list=true both list; an empty list is 404", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secret/data/l/a", { data: { v: "1" } });
    await t.req("POST", "/v1/secret/data/l/b/c", { data: { v: "1" } });
    assert.deepEqual((await t.req("LIST", "/v1/secret/metadata/l")).body.data.keys, ["a", "b/"]);
    assert.deepEqual((await t.req("GET", "/v1/secret/metadata/l?list=true")).body.data.keys, [
      "a",
      "b/",
    ]);
    assert.equal((await t.req("LIST", "/v1/secret/metadata/empty")).status, 404);
    assert.deepEqual((await t.req("LIST", "/v1/sys/policies/acl")).body.data.keys, [
      "default",
      "root",
    ]);
  } finally {
    await t.close();
  }
});
