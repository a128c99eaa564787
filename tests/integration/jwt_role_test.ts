import assert from "node:assert/strict";
import { call } from "../helpers/test_core.ts";
import { AUD, mint, withJwtCore } from "./jwt_fixtures.ts";

Deno.test("auth/jwt/role applies Vault's token fields, legacy names included, at login", async () => {
  await withJwtCore(async ({ t, k1, login }) => {
    // The QA write, bound to where the test client is so that it can log in.
    await call(t, "POST", "auth/jwt/role/legacy", {
      bound_audiences: AUD,
      policies: "p1",
      bound_cidrs: "127.0.0.0/8",
      ttl: "1m",
      max_ttl: "2m",
      num_uses: 1,
      token_explicit_max_ttl: "2m",
      token_no_default_policy: true,
    }, 204);
    const role = (await call(t, "GET", "auth/jwt/role/legacy")).data;
    assert.deepEqual(role.token_policies, ["p1"]);
    assert.deepEqual(role.token_bound_cidrs, ["127.0.0.0/8"]);
    assert.equal(role.token_ttl, 60);
    assert.equal(role.token_max_ttl, 120);
    assert.equal(role.token_num_uses, 1);
    assert.equal(role.token_explicit_max_ttl, 120);
    assert.equal(role.token_no_default_policy, true);
    assert.equal(role.token_period, 0);

    const r = await login("legacy", await mint(k1));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.auth.lease_duration, 60);
    assert.equal(r.body.auth.num_uses, 1);
    assert.deepEqual(r.body.auth.policies, ["p1"]);
    const tok = r.body.auth.client_token;
    const looked = (await call(t, "POST", "auth/token/lookup", { token: tok })).data;
    assert.equal(looked.explicit_max_ttl, 120);
    assert.deepEqual(looked.bound_cidrs, ["127.0.0.0/8"]);

    // The same role bound elsewhere: the client here may not log in.
    await call(t, "POST", "auth/jwt/role/legacy", { bound_cidrs: "10.0.0.0/8" }, 204);
    const refused = await login("legacy", await mint(k1));
    assert.equal(refused.status, 403, refused.text);
    assert.deepEqual(refused.body.errors, ["login request originated from invalid CIDR"]);
  });
});

Deno.test("auth/jwt/role refuses periodic and batch tokens and a field given under both names", async () => {
  await withJwtCore(async ({ t }) => {
    const write = (body: Record<string, unknown>) =>
      t.req("POST", "/v1/auth/jwt/role/r", { bound_audiences: AUD, ...body });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ token_period: "1h" }, /^token_period: periodic tokens are not supported$/],
      [{ period: 60 }, /^period: periodic tokens are not supported$/],
      [{ token_type: "batch" }, /^token_type: only service tokens are supported$/],
      [
        { policies: "a", token_policies: "b" },
        /^Cannot specify both "policies" and "token_policies"$/,
      ],
      [{ ttl: "1m", token_ttl: "2m" }, /^Cannot specify both "ttl" and "token_ttl"$/],
      [{ token_num_uses: -1 }, /^token_num_uses: must not be negative$/],
      [{ token_bound_cidrs: "10.0.0.0/33" }, /^token_bound_cidrs: /],
    ];
    for (const [body, message] of cases) {
      const r = await write(body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(r.body.errors.join("; "), message);
    }
    for (const ok of [{ token_period: 0 }, { token_type: "service" }, { token_type: "default" }]) {
      const r = await write(ok);
      assert.equal(r.status, 204, `${JSON.stringify(ok)}: ${r.text}`);
    }
  });
});

Deno.test("auth/jwt/role and config writes warn about the parameters they ignore, as Vault", async () => {
  await withJwtCore(async ({ t, jwks }) => {
    let r = await t.req("POST", "/v1/auth/jwt/role/r", {
      bound_audiences: AUD,
      oidc_scopes: "openid",
      bogus: 1,
    });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.warnings, [
      "Endpoint ignored these unrecognized parameters: [bogus oidc_scopes]",
    ]);
    assert.equal((await call(t, "GET", "auth/jwt/role/r")).data.bogus, undefined);
    r = await t.req("POST", "/v1/auth/jwt/config", { jwks_url: jwks.url, default_role: "r" });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.warnings, [
      "Endpoint ignored these unrecognized parameters: [default_role]",
    ]);
    // A key source SecretHub cannot use is refused rather than ignored.
    r = await t.req("POST", "/v1/auth/jwt/config", {
      jwks_url: jwks.url,
      oidc_discovery_url: "https://accounts.example.test",
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], /^oidc_discovery_url: is not supported/);
  });
});

Deno.test("auth/jwt/role bound_claims must be a map: a list is a 400 naming the field", async () => {
  await withJwtCore(async ({ t }) => {
    for (const bound of [["x", "y"], '["x","y"]', 5]) {
      const r = await t.req("POST", "/v1/auth/jwt/role/bc", {
        user_claim: "sub",
        bound_audiences: ["a"],
        bound_claims: bound,
      });
      assert.equal(r.status, 400, `${JSON.stringify(bound)}: ${r.text}`);
      assert.match(r.body.errors[0], /^bound_claims: must be a map/);
    }
    assert.equal((await t.req("GET", "/v1/auth/jwt/role/bc")).status, 404);
  });
});

Deno.test('auth/jwt/role bound_claims_type "glob" matches "*" as Vault (go-glob)', async () => {
  await withJwtCore(async ({ t, k1, login }) => {
    const bound = { repo: ["acme/*", "*/tools"], "/ns/env": "pr*d" };
    // A role per attempt: five failures on one role would lock this client out of it.
    let n = 0;
    const attempt = async (type: string, claims: Record<string, unknown>) => {
      const role = `g${++n}`;
      await call(t, "POST", `auth/jwt/role/${role}`, {
        bound_audiences: AUD,
        bound_claims: bound,
        bound_claims_type: type,
      }, 204);
      return (await login(role, await mint(k1, claims))).status;
    };
    const cases: [Record<string, unknown>, number][] = [
      [{ repo: "acme/app" }, 200],
      [{ repo: "acme/" }, 200],
      [{ repo: "other/tools" }, 200],
      [{ repo: "other/acme/app" }, 400],
      [{ repo: "acme" }, 400],
      [{ repo: ["x", "acme/y"] }, 200],
      [{ repo: "acme/app", ns: { env: "pred" } }, 200],
      [{ repo: "acme/app", ns: { env: "staging" } }, 400],
      // Only strings match a glob, as in Vault.
      [{ repo: 42 }, 400],
    ];
    for (const [claims, status] of cases) {
      assert.equal(await attempt("glob", claims), status, JSON.stringify(claims));
    }
    assert.equal((await call(t, "GET", "auth/jwt/role/g1")).data.bound_claims_type, "glob");
    // The same values compared as strings are literal.
    assert.equal(await attempt("string", { repo: "acme/app" }), 400);
    assert.equal(await attempt("string", { repo: "acme/*", ns: { env: "pr*d" } }), 200);
    const bad = await t.req("POST", "/v1/auth/jwt/role/g1", { bound_claims_type: "regex" });
    assert.equal(bad.status, 400, bad.text);
    assert.match(bad.body.errors[0], /^bound_claims_type: /);
  });
});

Deno.test("auth/jwt/role claim_mappings put claims into the token's metadata", async () => {
  await withJwtCore(async ({ t, k1, login }) => {
    await call(t, "POST", "auth/jwt/role/m", {
      bound_audiences: AUD,
      claim_mappings: { "/ns/env": "env", repo: "repository", absent: "nothing" },
    }, 204);
    assert.deepEqual((await call(t, "GET", "auth/jwt/role/m")).data.claim_mappings, {
      "/ns/env": "env",
      repo: "repository",
      absent: "nothing",
    });
    let r = await login("m", await mint(k1));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.auth.metadata, {
      env: "prod",
      repository: "acme/app",
      role: "m",
      user: "repo:acme/app",
    });
    const looked = (await call(t, "POST", "auth/token/lookup", {
      token: r.body.auth.client_token,
    })).data;
    assert.equal(looked.meta.env, "prod");
    // A mapped claim that is not a string fails the login, as Vault's extractMetadata.
    r = await login("m", await mint(k1, { repo: 7 }));
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, [
      'invalid credentials: error converting claim "repo" to string',
    ]);

    const refusals: [unknown, RegExp][] = [
      [{ sub: "role" }, /metadata key "role" is reserved/],
      [{ sub: "user" }, /metadata key "user" is reserved/],
      [{ a: "x", b: "x" }, /multiple keys are mapped to metadata key "x"/],
      [["a=b"], /must be a map/],
      [{ a: 1 }, /must be a map/],
    ];
    for (const [mappings, message] of refusals) {
      const w = await t.req("POST", "/v1/auth/jwt/role/m", { claim_mappings: mappings });
      assert.equal(w.status, 400, w.text);
      assert.match(w.body.errors[0], /^claim_mappings: /);
      assert.match(w.body.errors[0], message);
    }
  });
});

Deno.test("auth/jwt/role refuses a groups_claim: there is nothing to map groups into", async () => {
  await withJwtCore(async ({ t }) => {
    const r = await t.req("POST", "/v1/auth/jwt/role/g", {
      bound_audiences: AUD,
      groups_claim: "groups",
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], /^groups_claim: is not supported/);
    await call(t, "POST", "auth/jwt/role/g", { bound_audiences: AUD, groups_claim: "" }, 204);
    assert.equal((await call(t, "GET", "auth/jwt/role/g")).data.groups_claim, "");
  });
});

Deno.test("auth/jwt/login refuses a user claim that is not a string, as Vault", async () => {
  await withJwtCore(async ({ t, k1, login }) => {
    await call(t, "POST", "auth/jwt/role/u", { bound_audiences: AUD, user_claim: "uid" }, 204);
    for (const uid of [12345, true, ["a"], { a: 1 }]) {
      const r = await login("u", await mint(k1, { uid }));
      assert.equal(r.status, 400, `${JSON.stringify(uid)}: ${r.text}`);
      assert.deepEqual(r.body.errors, [
        'invalid credentials: claim "uid" could not be converted to string',
      ]);
    }
    const r = await login("u", await mint(k1, { uid: "12345" }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.auth.metadata.user, "12345");
  });
});

Deno.test("auth/jwt/role read and written back unchanged is accepted (read-modify-write)", async () => {
  await withJwtCore(async ({ t }) => {
    await call(t, "POST", "auth/jwt/role/rmw", {
      bound_audiences: AUD,
      policies: "p1",
      bound_cidrs: "127.0.0.0/8",
      ttl: "1m",
      clock_skew_leeway: -1,
    }, 204);
    const read = (await call(t, "GET", "auth/jwt/role/rmw")).data;
    assert.equal("policies" in read, false);
    assert.equal("period" in read, false);
    await call(t, "POST", "auth/jwt/role/rmw", read, 204);
    assert.deepEqual((await call(t, "GET", "auth/jwt/role/rmw")).data, read);
    await call(t, "POST", "auth/jwt/role/rmw", { ...read, policies: ["p1"], max_ttl: 0 }, 204);
    assert.deepEqual((await call(t, "GET", "auth/jwt/role/rmw")).data, read);
  });
});
