/**
 * The barrier's plaintext cache seen through the API: hot reads are served from memory, yet a
 * read right after any write sees the write, and sealing leaves no plaintext behind.
 */
import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";

Deno.test("kv data read after every kind of write sees that write, with the cache warm", async () => {
  const t = await startTestCore();
  try {
    await t.req("PUT", "/v1/sys/policies/acl/reader", {
      policy: `path "secret/data/app/*" { capabilities = ["read"] }`,
    });
    const tok = (await t.req("POST", "/v1/auth/token/create", { policies: ["reader"] })).body
      .auth.client_token as string;
    const read = async () => await t.req("GET", "/v1/secret/data/app/db", undefined, tok);

    await t.req("POST", "/v1/secret/data/app/db", { data: { password: "one" } });
    for (let i = 0; i < 3; i++) assert.equal((await read()).body.data.data.password, "one");
    assert.ok(t.core.barrier.cachedPlaintexts > 0, "hot values are held in memory");

    await t.req("POST", "/v1/secret/data/app/db", { data: { password: "two" } });
    assert.equal((await read()).body.data.data.password, "two");

    await t.req("PATCH", "/v1/secret/data/app/db", { data: { password: "three" } }, undefined, {
      "content-type": "application/merge-patch+json",
    });
    assert.equal((await read()).body.data.data.password, "three");

    assert.equal((await t.req("DELETE", "/v1/secret/data/app/db")).status, 204);
    assert.equal((await read()).status, 404);
    await t.req("POST", "/v1/secret/undelete/app/db", { versions: [3] });
    assert.equal((await read()).body.data.data.password, "three");

    await t.req("DELETE", "/v1/secret/metadata/app/db");
    assert.equal((await read()).status, 404);

    // A revoked token must stop working at once, even though its entry was just read.
    await t.req("POST", "/v1/auth/token/revoke", { token: tok });
    assert.equal((await read()).status, 403);
  } finally {
    await t.close();
  }
});

Deno.test("sys/seal drops every cached plaintext; reads work again after unseal", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secret/data/app/k", { data: { v: "cached-value" } });
    assert.equal((await t.req("GET", "/v1/secret/data/app/k")).body.data.data.v, "cached-value");
    assert.ok(t.core.barrier.cachedPlaintexts > 0);

    assert.equal((await t.req("PUT", "/v1/sys/seal")).status, 204);
    assert.equal(t.core.barrier.cachedPlaintexts, 0);
    assert.equal((await t.req("GET", "/v1/secret/data/app/k")).status, 503);

    await t.req("PUT", "/v1/sys/unseal", { key: t.unsealKeys[0] }, null);
    assert.equal((await t.req("GET", "/v1/secret/data/app/k")).body.data.data.v, "cached-value");
  } finally {
    await t.close();
  }
});
