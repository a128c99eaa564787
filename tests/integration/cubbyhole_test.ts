/** The cubbyhole/ mount: per-token private storage that goes with its token, as Vault's. */
import assert from "node:assert/strict";
import { startTestCore, type TestCore } from "../helpers/test_core.ts";
import { CubbyholeStore } from "../../core/cubbyhole/cubbyhole_store.ts";

async function childToken(t: TestCore, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await t.req("POST", "/v1/auth/token/create", { policies: ["default"], ...extra });
  assert.equal(r.status, 200, r.text);
  return r.body.auth.client_token;
}

async function cubbyKeys(t: TestCore): Promise<string[]> {
  return (await t.core.physical.keys("sys/cubbyhole/")).filter((k) => !k.endsWith("/salt"));
}

Deno.test("cubbyhole: each token sees only its own paths, under the default policy", async () => {
  const t = await startTestCore();
  try {
    const mounts = (await t.req("GET", "/v1/sys/mounts")).body.data;
    assert.equal(mounts["cubbyhole/"].type, "cubbyhole");
    const a = await childToken(t);
    const b = await childToken(t);
    let r = await t.req("POST", "/v1/cubbyhole/app/db", { password: "cubby-a-secret" }, a);
    assert.equal(r.status, 204, r.text);
    await t.req("POST", "/v1/cubbyhole/app/db", { password: "cubby-b-secret" }, b);
    await t.req("POST", "/v1/cubbyhole/top", { x: 1 }, a);
    r = await t.req("GET", "/v1/cubbyhole/app/db", undefined, a);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.data, { password: "cubby-a-secret" });
    assert.equal(
      (await t.req("GET", "/v1/cubbyhole/app/db", undefined, b)).body.data.password,
      "cubby-b-secret",
    );
    // Root has a cubbyhole of its own too: it does not see the others'.
    assert.equal((await t.req("GET", "/v1/cubbyhole/app/db")).status, 404);
    r = await t.req("LIST", "/v1/cubbyhole/", undefined, a);
    assert.deepEqual(r.body.data.keys, ["app/", "top"]);
    r = await t.req("LIST", "/v1/cubbyhole/app", undefined, b);
    assert.deepEqual(r.body.data.keys, ["db"]);
    assert.equal(
      (await t.req("LIST", "/v1/cubbyhole/", undefined, await childToken(t))).status,
      404,
    );
    // A write replaces what was there; a delete removes it.
    await t.req("PUT", "/v1/cubbyhole/top", { y: "2" }, a);
    assert.deepEqual((await t.req("GET", "/v1/cubbyhole/top", undefined, a)).body.data, { y: "2" });
    assert.equal((await t.req("DELETE", "/v1/cubbyhole/top", undefined, a)).status, 204);
    assert.equal((await t.req("GET", "/v1/cubbyhole/top", undefined, a)).status, 404);
    // Bad requests are 400s, never 500s.
    for (
      const [method, path, body] of [
        ["POST", "/v1/cubbyhole/x", {}],
        ["POST", "/v1/cubbyhole/", { a: 1 }],
        ["GET", "/v1/cubbyhole/a//b", undefined],
        ["POST", "/v1/cubbyhole/a%01b", { a: 1 }],
      ] as const
    ) {
      r = await t.req(method, path, body, a);
      assert.ok(r.status >= 400 && r.status < 500, `${method} ${path}: ${r.status} ${r.text}`);
    }
    // No token, no cubbyhole.
    assert.equal((await t.req("GET", "/v1/cubbyhole/app/db", undefined, null)).status, 403);
  } finally {
    await t.close();
  }
});

Deno.test("cubbyhole: a revoked token's data goes with it, children's too", async () => {
  const t = await startTestCore();
  try {
    await t.req("PUT", "/v1/sys/policies/acl/minter", {
      policy: `path "auth/token/create" { capabilities = ["update"] }`,
    });
    const parent = await childToken(t, { policies: ["default", "minter"] });
    const child = (await t.req("POST", "/v1/auth/token/create", {}, parent)).body.auth.client_token;
    const other = await childToken(t);
    await t.req("POST", "/v1/cubbyhole/p", { v: "parent" }, parent);
    await t.req("POST", "/v1/cubbyhole/c/deep", { v: "child" }, child);
    await t.req("POST", "/v1/cubbyhole/o", { v: "other" }, other);
    assert.equal((await cubbyKeys(t)).length, 3);
    assert.equal((await t.req("PUT", "/v1/auth/token/revoke", { token: parent })).status, 204);
    const left = await cubbyKeys(t);
    assert.equal(left.length, 1, left.join());
    assert.equal((await t.req("GET", "/v1/cubbyhole/o", undefined, other)).body.data.v, "other");
    // The keys name no accessor in clear.
    const acc =
      (await t.req("GET", "/v1/auth/token/lookup-self", undefined, other)).body.data.accessor;
    assert.equal(left.some((k) => k.includes(acc)), false);
  } finally {
    await t.close();
  }
});

Deno.test("CubbyholeStore.tidy() removes the folders of tokens that no longer exist", async () => {
  const t = await startTestCore();
  try {
    const store = new CubbyholeStore(t.core.barrier.view("sys/cubbyhole/"));
    await store.write("acc-live", "a", { v: 1 });
    await store.write("acc-gone", "a/b", { v: 2 });
    await store.write("acc-gone", "c", { v: 3 });
    assert.equal(await store.tidy(() => Promise.resolve(["acc-live"])), 1);
    assert.deepEqual(await store.read("acc-live", "a"), { v: 1 });
    assert.equal(await store.read("acc-gone", "c"), null);
    assert.deepEqual(await store.list("acc-gone", ""), []);
    assert.equal(await store.tidy(() => Promise.resolve(["acc-live"])), 0);
  } finally {
    await t.close();
  }
});

Deno.test("a form body's repeated key is joined with commas, as Vault's parseFormRequest does", async () => {
  const t = await startTestCore();
  try {
    const r = await fetch(`${t.url}/v1/cubbyhole/form`, {
      method: "POST",
      headers: {
        "x-vault-token": t.rootToken,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "a=1&a=2&b=&list=x",
    });
    assert.equal(r.status, 204, await r.text());
    const back = await t.req("GET", "/v1/cubbyhole/form");
    assert.deepEqual(back.body.data, { a: "1,2", b: "", list: "x" });
  } finally {
    await t.close();
  }
});
