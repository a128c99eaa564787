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

Deno.test("short route: only a body of data (an object) and options alone is Vault's envelope; any other key makes the whole body the secret", async () => {
  const t = await startTestCore();
  try {
    const read = async (p: string) => (await t.req("GET", `/v1/secrets/${p}`)).body.data.data;

    // The QA case: "name" beside an object "data" is a field of the secret, not dropped.
    let r = await t.req("POST", "/v1/secrets/short/d", { data: { x: 1 }, name: "n" });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await read("short/d"), { data: { x: 1 }, name: "n" });
    // Same with options beside them: still not an envelope (options is then a field too).
    r = await t.req("POST", "/v1/secrets/short/o", {
      data: { x: 1 },
      options: { cas: 0 },
      name: "n",
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await read("short/o"), { data: { x: 1 }, options: { cas: 0 }, name: "n" });
    // "data" that is not an object: a field like any other.
    r = await t.req("POST", "/v1/secrets/short/s", { data: "plain", options: { cas: 0 } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await read("short/s"), { data: "plain", options: { cas: 0 } });
    // options without data: a field.
    r = await t.req("POST", "/v1/secrets/short/opt", { options: { cas: 5 } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await read("short/opt"), { options: { cas: 5 } });

    // Envelopes: {data} and {data, options}, options applied (check-and-set).
    r = await t.req("POST", "/v1/secrets/short/e", { data: { x: 1 } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await read("short/e"), { x: 1 });
    r = await t.req("POST", "/v1/secrets/short/e", { data: { x: 2 }, options: { cas: 0 } });
    assert.equal(r.status, 400, r.text); // cas 0 on an existing key: the options were read
    r = await t.req("POST", "/v1/secrets/short/e", { data: { x: 2 }, options: { cas: 1 } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await read("short/e"), { x: 2 });
    // An empty data object is still the envelope (a version with no fields).
    r = await t.req("POST", "/v1/secrets/short/empty", { data: {} });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(await read("short/empty"), {});
  } finally {
    await t.close();
  }
});

Deno.test("short route: an empty body is a 400 (no new empty version); PATCH takes a flat body; capabilities-self answers for it", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secrets/edge/a", { v: "keep-me" });
    for (const body of [undefined, {}]) {
      const r = await t.req("POST", "/v1/secrets/edge/a", body);
      assert.equal(r.status, 400, r.text);
      assert.deepEqual(r.body.errors, ["no data provided"]);
    }
    let r = await t.req("GET", "/v1/secrets/edge/a");
    assert.equal(r.body.data.data.v, "keep-me");
    assert.equal(r.body.data.metadata.version, 1);

    r = await t.req("PATCH", "/v1/secrets/edge/a", { z: "y" }, undefined, {
      "content-type": "application/merge-patch+json",
    });
    assert.equal(r.status, 200, r.text);
    r = await t.req("GET", "/v1/secrets/edge/a");
    assert.deepEqual(r.body.data.data, { v: "keep-me", z: "y" });

    await t.req("PUT", "/v1/sys/policies/acl/inv", {
      policy: `path "secret/data/inv/a" { capabilities = ["read", "update"] }
path "secret/metadata/inv/a" { capabilities = ["list"] }`,
    });
    const tok =
      (await t.req("POST", "/v1/auth/token/create", { policies: ["inv"] })).body.auth.client_token;
    r = await t.req("POST", "/v1/sys/capabilities-self", {
      paths: ["secrets/inv/a", "secrets/inv/b", "secret/data/inv/a"],
    }, tok);
    assert.deepEqual(r.body.data["secrets/inv/a"], ["list", "read", "update"]);
    assert.deepEqual(r.body.data["secrets/inv/b"], ["deny"]);
    assert.deepEqual(r.body.data["secret/data/inv/a"], ["read", "update"]);
  } finally {
    await t.close();
  }
});
