import assert from "node:assert/strict";
import { startTestCore, type TestCore } from "../helpers/test_core.ts";

async function tokenWith(
  t: TestCore,
  policies: string[],
  extra: Record<string, unknown> = {},
): Promise<string> {
  const r = await t.req("POST", "/v1/auth/token/create", { policies, ...extra });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.auth.client_token;
}

Deno.test("a non-root token is allowed or denied exactly as its policy says", async () => {
  const t = await startTestCore();
  try {
    let r = await t.req("PUT", "/v1/sys/policies/acl/app-read", {
      policy: `
        path "secret/data/app/*" { capabilities = ["read"] }
        path "secret/metadata/app/*" { capabilities = ["list"] }
        path "secret/data/app/blocked" { capabilities = ["deny"] }
      `,
    });
    assert.equal(r.status, 204);
    await t.req("POST", "/v1/secret/data/app/one", { data: { v: "1" } });
    await t.req("POST", "/v1/secret/data/app/blocked", { data: { v: "x" } });
    await t.req("POST", "/v1/secret/data/other", { data: { v: "o" } });
    const tok = await tokenWith(t, ["app-read"]);

    assert.equal((await t.req("GET", "/v1/secret/data/app/one", undefined, tok)).status, 200);
    assert.equal((await t.req("GET", "/v1/secret/data/app/blocked", undefined, tok)).status, 403);
    assert.equal((await t.req("GET", "/v1/secret/data/other", undefined, tok)).status, 403);
    r = await t.req("POST", "/v1/secret/data/app/one", { data: { v: "2" } }, tok);
    assert.equal(r.status, 403);
    assert.deepEqual(r.body.errors, ["permission denied"]);
    assert.equal((await t.req("LIST", "/v1/secret/metadata/app/", undefined, tok)).status, 200);
    assert.equal((await t.req("GET", "/v1/sys/mounts", undefined, tok)).status, 403);
    assert.equal((await t.req("PUT", "/v1/sys/seal", undefined, tok)).status, 403);
    assert.equal((await t.req("GET", "/v1/auth/token/lookup-self", undefined, tok)).status, 200);

    r = await t.req("POST", "/v1/sys/capabilities-self", {
      paths: ["secret/data/app/one", "secret/data/other"],
    }, tok);
    assert.deepEqual(r.body.data["secret/data/app/one"], ["read"]);
    assert.deepEqual(r.body.data["secret/data/other"], ["deny"]);

    // A policy change takes effect for the live token at once.
    await t.req("PUT", "/v1/sys/policies/acl/app-read", {
      policy: `path "secret/data/app/*" { capabilities = ["read", "create", "update"] }`,
    });
    assert.equal(
      (await t.req("POST", "/v1/secret/data/app/one", { data: { v: "3" } }, tok)).status,
      200,
    );
    assert.equal((await t.req("GET", "/v1/secret/data/app/blocked", undefined, tok)).status, 200);
    await t.req("DELETE", "/v1/sys/policies/acl/app-read");
    assert.equal((await t.req("GET", "/v1/secret/data/app/one", undefined, tok)).status, 403);
  } finally {
    await t.close();
  }
});

Deno.test("create vs update: a create-only policy cannot overwrite an existing secret", async () => {
  const t = await startTestCore();
  try {
    await t.req("PUT", "/v1/sys/policies/acl/c", {
      policy: `path "secret/data/*" { capabilities = ["create"] }`,
    });
    const tok = await tokenWith(t, ["c"]);
    assert.equal(
      (await t.req("POST", "/v1/secret/data/new", { data: { a: "1" } }, tok)).status,
      200,
    );
    assert.equal(
      (await t.req("POST", "/v1/secret/data/new", { data: { a: "2" } }, tok)).status,
      403,
    );
  } finally {
    await t.close();
  }
});

Deno.test("tokens: bad, missing, revoked and expired tokens get 403; Bearer works; children die with parents", async () => {
  const t = await startTestCore();
  try {
    assert.equal((await t.req("GET", "/v1/secret/data/x", undefined, null)).status, 403);
    assert.equal((await t.req("GET", "/v1/secret/data/x", undefined, "hvs.nope")).status, 403);
    const r = await fetch(`${t.url}/v1/auth/token/lookup-self`, {
      headers: { authorization: `Bearer ${t.rootToken}` },
    });
    assert.equal(r.status, 200);
    await r.body?.cancel();
    // The same header twice: the first value counts, as Go's Header.Get reads it for Vault.
    const h = new Headers();
    h.append("x-vault-token", t.rootToken);
    h.append("x-vault-token", "hvs.second");
    const twice = await fetch(`${t.url}/v1/auth/token/lookup-self`, { headers: h });
    assert.equal(twice.status, 200);
    await twice.body?.cancel();

    await t.req("PUT", "/v1/sys/policies/acl/p", {
      policy:
        `path "secret/*" { capabilities = ["read","create","update"] }\npath "auth/token/create" { capabilities = ["update"] }`,
    });
    const parent = await tokenWith(t, ["p"]);
    const child =
      (await t.req("POST", "/v1/auth/token/create", { policies: ["p"] }, parent)).body.auth
        .client_token;
    // A child cannot get policies its parent lacks.
    const esc = await t.req("POST", "/v1/auth/token/create", { policies: ["root"] }, parent);
    assert.equal(esc.status, 400);
    assert.match(esc.body.errors[0], /subset/);
    assert.equal((await t.req("GET", "/v1/auth/token/lookup-self", undefined, child)).status, 200);
    assert.equal(
      (await t.req("POST", "/v1/auth/token/revoke-self", undefined, parent)).status,
      204,
    );
    assert.equal((await t.req("GET", "/v1/auth/token/lookup-self", undefined, parent)).status, 403);
    assert.equal((await t.req("GET", "/v1/auth/token/lookup-self", undefined, child)).status, 403);

    const short = await tokenWith(t, ["p"], { ttl: "1s" });
    assert.equal((await t.req("GET", "/v1/auth/token/lookup-self", undefined, short)).status, 200);
    await new Promise((res) => setTimeout(res, 1100));
    assert.equal((await t.req("GET", "/v1/auth/token/lookup-self", undefined, short)).status, 403);

    const once = await tokenWith(t, ["p"], { num_uses: 1 });
    assert.equal((await t.req("GET", "/v1/auth/token/lookup-self", undefined, once)).status, 200);
    assert.equal((await t.req("GET", "/v1/auth/token/lookup-self", undefined, once)).status, 403);

    const byAcc = await t.req("POST", "/v1/auth/token/create", { policies: ["p"] });
    const acc = byAcc.body.auth.accessor;
    const la = await t.req("POST", "/v1/auth/token/lookup-accessor", { accessor: acc });
    assert.equal(la.body.data.id, "");
    assert.deepEqual(la.body.data.policies, ["default", "p"]);
    assert.equal(
      (await t.req("POST", "/v1/auth/token/revoke-accessor", { accessor: acc })).status,
      204,
    );
    assert.equal(
      (await t.req("GET", "/v1/auth/token/lookup-self", undefined, byAcc.body.auth.client_token))
        .status,
      403,
    );
  } finally {
    await t.close();
  }
});

Deno.test("auth/token/renew-self extends the TTL but never past explicit_max_ttl", async () => {
  const t = await startTestCore();
  try {
    const tok = (await t.req("POST", "/v1/auth/token/create", {
      policies: ["default"],
      ttl: "60s",
      explicit_max_ttl: "90s",
    })).body.auth;
    assert.equal(tok.lease_duration, 60);
    const r = await t.req(
      "POST",
      "/v1/auth/token/renew-self",
      { increment: "1h" },
      tok.client_token,
    );
    assert.equal(r.status, 200);
    assert.ok(r.body.auth.lease_duration <= 90 && r.body.auth.lease_duration >= 88);
    // As Vault does, the reply says the increment was cut down.
    assert.match(r.body.warnings.join(" "), /TTL of "1h0m0s" exceeded the effective max_ttl/);
    const within = await t.req(
      "POST",
      "/v1/auth/token/renew-self",
      { increment: "5s" },
      tok.client_token,
    );
    assert.equal(within.body.auth.lease_duration, 5);
    assert.equal(within.body.warnings, null);
  } finally {
    await t.close();
  }
});

Deno.test("auth/token/create caps a TTL past the system max (768h) and warns", async () => {
  const t = await startTestCore();
  try {
    const r = await t.req("POST", "/v1/auth/token/create", {
      policies: ["default"],
      ttl: "100000h",
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.auth.lease_duration, 768 * 3600);
    assert.deepEqual(r.body.warnings, [
      `TTL of "100000h0m0s" exceeded the effective max_ttl of "768h0m0s"; TTL value is capped accordingly`,
    ]);
    const plain = await t.req("POST", "/v1/auth/token/create", {
      policies: ["default"],
      ttl: "1h",
    });
    assert.equal(plain.body.auth.lease_duration, 3600);
    assert.equal(plain.body.warnings, null);
  } finally {
    await t.close();
  }
});

Deno.test("the token sweep job fires on its timer and removes expired tokens", async () => {
  const { createCore } = await import("../../core/server.ts");
  const { decodeShare } = await import("../../core/seal/seal.ts");
  const dir = await Deno.makeTempDir();
  const { core } = await createCore(`${dir}/db`, { tidyIntervalMs: 50 });
  try {
    const init = await core.init(1, 1);
    await core.unseal(decodeShare(init.keys_base64[0]!));
    const { entry } = await core.tokens.create({ policies: ["default"], parent: null, ttl: 1 });
    await new Promise((r) => setTimeout(r, 1300));
    const left = await core.physical.keys(`sys/token/id/${entry.id}`);
    assert.deepEqual(left, []);
  } finally {
    await core.close();
    await Deno.remove(dir, { recursive: true });
  }
});
