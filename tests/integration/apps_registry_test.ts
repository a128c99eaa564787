/**
 * The application registry through the real core: CRUD with Vault-style lists, validation, the
 * ACL on apps/ paths, and suspension/deletion revoking the app's tokens at once.
 */
import assert from "node:assert/strict";
import { withTestCore } from "../helpers/test_core.ts";
import { call, registerApp } from "./identity_fixtures.ts";

const withCore = withTestCore;

Deno.test("apps: register, read (by id and name), list both ways, update, delete", () =>
  withCore(async (t) => {
    await call(t, "LIST", "apps", undefined, 404);
    const id = await registerApp(t, "billing", {
      description: "billing service",
      owner: "team-pay",
      policies: ["billing-read"],
      allowed_paths: ["secret/data/billing/*"],
    });
    assert.match(id, /^[0-9a-f-]{36}$/);
    const read = (await call(t, "GET", `apps/${id}`)).data;
    assert.equal(read.name, "billing");
    assert.equal(read.status, "active");
    assert.deepEqual(read.policies, ["billing-read"]);
    assert.deepEqual(read.allowed_paths, ["secret/data/billing/*"]);
    assert.equal((await call(t, "GET", "apps/billing")).data.id, id);

    const listed = (await call(t, "LIST", "apps")).data;
    assert.deepEqual(listed.keys, [id]);
    assert.equal(listed.key_info[id].name, "billing");
    assert.deepEqual((await call(t, "GET", "apps?list=true")).data.keys, [id]);

    const upd = (await call(t, "POST", `apps/${id}`, { owner: "team-b", name: "billing2" })).data;
    assert.equal(upd.owner, "team-b");
    assert.equal(upd.description, "billing service");
    assert.equal((await call(t, "GET", "apps/billing2")).data.id, id);
    await call(t, "GET", "apps/billing", undefined, 404);

    await call(t, "DELETE", `apps/${id}`, undefined, 204);
    await call(t, "GET", `apps/${id}`, undefined, 404);
    await call(t, "LIST", "apps", undefined, 404);
    // The name is free again.
    await registerApp(t, "billing2");
  }));

Deno.test("apps: duplicate names are 409; bad bodies are 400 naming the field; root policy refused", () =>
  withCore(async (t) => {
    await registerApp(t, "web");
    const dup = await t.req("POST", "/v1/apps", { name: "web" });
    assert.equal(dup.status, 409);
    for (
      const [body, field] of [
        [{}, "name"],
        [{ name: "has space" }, "name"],
        [{ name: 42 }, "name"],
        [{ name: "x", policies: 7 }, "policies"],
        [{ name: "x", policies: ["root"] }, "policies"],
        [{ name: "x", description: "d".repeat(2000) }, "description"],
      ] as const
    ) {
      const r = await t.req("POST", "/v1/apps", body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.ok(r.body.errors[0].includes(field), r.text);
    }
    const id = await registerApp(t, "api");
    const bad = await t.req("POST", `/v1/apps/${id}/bootstrap-token`, { ttl: "48h" });
    assert.equal(bad.status, 400);
    assert.match(bad.body.errors[0], /ttl/);
  }));

Deno.test("apps: paths are ACL-checked; a token without a policy for them gets 403", () =>
  withCore(async (t) => {
    const id = await registerApp(t, "svc");
    const plain = (await call(t, "POST", "auth/token/create", { policies: ["default"] })).auth
      .client_token;
    for (
      const [m, p, b] of [
        ["GET", `apps/${id}`, undefined],
        ["LIST", "apps", undefined],
        ["POST", "apps", { name: "other" }],
        ["POST", `apps/${id}/suspend`, {}],
        ["POST", `apps/${id}/token`, {}],
        ["POST", `apps/${id}/bootstrap-token`, {}],
        ["DELETE", `apps/${id}`, undefined],
      ] as const
    ) {
      assert.equal((await t.req(m, `/v1/${p}`, b, plain)).status, 403, `${m} ${p}`);
    }
    await call(t, "PUT", "sys/policies/acl/apps-reader", {
      policy: `path "apps/*" { capabilities = ["read"] }`,
    }, 204);
    const reader = (await call(t, "POST", "auth/token/create", { policies: ["apps-reader"] }))
      .auth.client_token;
    assert.equal((await t.req("GET", `/v1/apps/${id}`, undefined, reader)).status, 200);
    assert.equal((await t.req("POST", `/v1/apps/${id}/suspend`, {}, reader)).status, 403);
  }));

Deno.test("apps: suspend revokes the app's tokens at once and refuses new ones; activate allows them again", () =>
  withCore(async (t) => {
    await call(t, "PUT", "sys/policies/acl/svc-kv", {
      policy: `path "secret/data/svc/*" { capabilities = ["read", "create", "update"] }`,
    }, 204);
    const id = await registerApp(t, "svc", { policies: ["svc-kv"] });
    const auth = (await call(t, "POST", `apps/${id}/token`, { ttl: "1h" })).auth;
    assert.deepEqual(auth.policies, ["default", "svc-kv"]);
    const tok = auth.client_token;
    await call(t, "POST", "secret/data/svc/a", { data: { v: "1" } }, 200, tok);
    await call(t, "GET", "secret/data/other", undefined, 403, tok);

    assert.equal((await call(t, "POST", `apps/${id}/suspend`, {})).data.status, "suspended");
    assert.equal((await t.req("GET", "/v1/secret/data/svc/a", undefined, tok)).status, 403);
    assert.equal((await t.req("GET", "/v1/auth/token/lookup-self", undefined, tok)).status, 403);
    assert.equal((await t.req("POST", `/v1/apps/${id}/token`, {})).status, 400);
    assert.equal((await t.req("POST", `/v1/apps/${id}/bootstrap-token`, {})).status, 400);

    await call(t, "POST", `apps/${id}/activate`, {});
    const again = (await call(t, "POST", `apps/${id}/token`, {})).auth.client_token;
    await call(t, "GET", "secret/data/svc/a", undefined, 200, again);
    // Deleting the app revokes its tokens too.
    await call(t, "DELETE", `apps/${id}`, undefined, 204);
    assert.equal((await t.req("GET", "/v1/secret/data/svc/a", undefined, again)).status, 403);
  }));

Deno.test("apps: tokens minted while the app is suspended or deleted do not survive it", () =>
  withCore(async (t) => {
    await call(t, "PUT", "sys/policies/acl/race-kv", {
      policy: `path "secret/data/race/*" { capabilities = ["read"] }`,
    }, 204);
    await call(t, "POST", "secret/data/race/x", { data: { v: "1" } }, 200);
    for (const end of ["suspend", "delete"] as const) {
      const id = await registerApp(t, `race-${end}`, { policies: ["race-kv"] });
      const mints = Array.from({ length: 24 }, () => t.req("POST", `/v1/apps/${id}/token`, {}));
      const stop = end === "suspend"
        ? t.req("POST", `/v1/apps/${id}/suspend`, {})
        : t.req("DELETE", `/v1/apps/${id}`);
      const [done, minted] = await Promise.all([stop, Promise.all(mints)]);
      assert.ok(done.status === 200 || done.status === 204, done.text);
      const tokens = minted.filter((r) => r.status === 200).map((r) => r.body.auth.client_token);
      for (const r of minted) assert.ok([200, 400, 404].includes(r.status), r.text);
      for (const tok of tokens) {
        const r = await t.req("GET", "/v1/secret/data/race/x", undefined, tok);
        assert.equal(r.status, 403, `${end}: a token minted in the race still reads`);
      }
    }
  }));
