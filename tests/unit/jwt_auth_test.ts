import assert from "node:assert/strict";
import {
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from "jose";
import { Barrier } from "../../core/barrier/barrier.ts";
import { Keyring } from "../../core/barrier/keyring.ts";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { compilePaths } from "../../core/router/match.ts";
import { callPath, type Op, rejection } from "../helpers/path_table.ts";
import type { CompiledPath, CoreResponse } from "../../core/router/types.ts";
import { type AuthMethodContext, type LoginGrant, loginRenewHook } from "../../core/auth/types.ts";
import { SlidingLoginLimiter, type SlidingLoginLimiterOptions } from "../../core/auth/limiter.ts";
import { createJwtFactory } from "../../core/auth/jwt/mod.ts";

function call(
  table: CompiledPath[],
  op: Op,
  path: string,
  data: Record<string, unknown> = {},
  remoteAddress = "127.0.0.1",
): Promise<CoreResponse | void> {
  return callPath(table, "auth/jwt/", op, path, data, remoteAddress);
}

interface Signer {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function signer(kid: string, alg = "ES256"): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = { ...await exportJWK(publicKey), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicKey, jwk };
}

const ISSUER = "https://ci.example.test";
const AUD = "secrethub";

interface Claims {
  aud?: string;
  iss?: string;
  sub?: string;
  exp?: number;
  extra?: JWTPayload;
  kid?: string;
}

function mint(s: Signer, c: Claims = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ repo: "acme/app", ns: { env: "prod" }, ...c.extra })
    .setProtectedHeader({ alg: s.alg, kid: c.kid ?? s.kid, typ: "JWT" })
    .setIssuer(c.iss ?? ISSUER)
    .setAudience(c.aud ?? AUD)
    .setSubject(c.sub ?? "repo:acme/app")
    .setIssuedAt(now - 10)
    .setExpirationTime(c.exp ?? now + 300)
    .sign(s.privateKey);
}

interface Harness {
  table: CompiledPath[];
  grants: LoginGrant[];
  revoked: string[];
  jwks: { keys: JWK[] };
  /** While true, the JWKS answers 503. */
  jwksDown: boolean;
  fetches: () => number;
  jwksUrl: string;
  clock: { t: number };
  /** While `wait` is set, issueToken waits on it (a login caught minting its token). */
  issueGate: { wait: Promise<void> | null; entered: boolean };
}

async function withJwt(
  fn: (h: Harness) => Promise<void>,
  limits: SlidingLoginLimiterOptions = {},
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const s = await LibsqlStorage.open(`${dir}/jwt.db`);
  const jwks: { keys: JWK[] } = { keys: [] };
  let fetches = 0;
  let harness: Harness | null = null;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname !== "/jwks") return new Response("not found", { status: 404 });
    fetches++;
    if (harness?.jwksDown) return new Response("down", { status: 503 });
    return Response.json(jwks);
  });
  try {
    const b = new Barrier(s);
    b.unsealWith(Keyring.create());
    const clock = { t: Date.now() };
    const grants: LoginGrant[] = [];
    const revoked: string[] = [];
    const issueGate: Harness["issueGate"] = { wait: null, entered: false };
    const ctx: AuthMethodContext = {
      storage: b.view("auth/jwt-uuid/"),
      mount: { path: "auth/jwt/", accessor: "auth_jwt_1", uuid: "jwt-uuid", type: "jwt" },
      now: () => clock.t,
      issueToken: async (grant) => {
        if (issueGate.wait) {
          issueGate.entered = true;
          await issueGate.wait;
        }
        grants.push(grant);
        return { client_token: `hvs.t${grants.length}` };
      },
      revokeRole: (role) => {
        revoked.push(role);
        return Promise.resolve();
      },
      limiter: new SlidingLoginLimiter({ ...limits, now: () => clock.t }),
    };
    // A zero cooldown lets a rotated key be fetched at once instead of after jose's 30 s.
    const table = compilePaths(createJwtFactory({ cooldownMs: 0 })(ctx).paths);
    const jwksUrl = `http://127.0.0.1:${server.addr.port}/jwks`;
    harness = {
      table,
      grants,
      revoked,
      jwks,
      jwksDown: false,
      fetches: () => fetches,
      jwksUrl,
      clock,
      issueGate,
    };
    await fn(harness);
  } finally {
    await server.shutdown();
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const ROLE = {
  role_type: "jwt",
  bound_audiences: [AUD, "other-service"],
  bound_claims: { repo: "acme/app", "/ns/env": ["prod", "staging"] },
  user_claim: "sub",
  token_policies: "deploy,read",
  token_ttl: "20m",
};

async function setup(h: Harness, config: Record<string, unknown> = {}): Promise<void> {
  await call(h.table, "write", "config", { jwks_url: h.jwksUrl, bound_issuer: ISSUER, ...config });
  await call(h.table, "write", "role/ci", ROLE);
}

function login(h: Harness, jwt: string, role = "ci", from = "10.0.0.5") {
  return call(h.table, "write", "login", { role, jwt }, from);
}

async function loginError(h: Harness, jwt: string, role = "ci"): Promise<string> {
  const e = await rejection(login(h, jwt, role));
  assert.equal(e.status, 400, e.message);
  return e.errors.join("; ");
}

Deno.test("jwt: a valid token from the JWKS logs in with the role's grant", async () => {
  await withJwt(async (h) => {
    const k1 = await signer("k1");
    h.jwks.keys = [k1.jwk];
    await setup(h);
    const res = await login(h, await mint(k1));
    assert.equal(res?.auth?.client_token, "hvs.t1");
    assert.deepEqual(h.grants, [{
      role: "ci",
      policies: ["deploy", "read"],
      metadata: { role: "ci", user: "repo:acme/app" },
      displayName: "jwt-repo:acme/app",
      ttl: 1200,
      maxTtl: 0,
      explicitMaxTtl: 0,
      numUses: 0,
      boundCidrs: [],
      noDefaultPolicy: false,
    }]);
    // The key set is cached: a second login does not fetch it again.
    await login(h, await mint(k1));
    assert.equal(h.fetches(), 1);
  });
});

Deno.test("jwt: each kind of bad token is refused with a reason that echoes nothing", async () => {
  await withJwt(async (h) => {
    const k1 = await signer("k1");
    const impostor = await signer("k1"); // same kid, different key
    const stranger = await signer("k-unknown");
    h.jwks.keys = [k1.jwk];
    await setup(h);
    const now = Math.floor(Date.now() / 1000);

    const aud = await loginError(h, await mint(k1, { aud: "someone-else-entirely" }));
    assert.match(aud, /^invalid credentials: audience not allowed$/);
    assert.match(
      await loginError(h, await mint(k1, { exp: now - 3600 })),
      /invalid credentials: token expired/,
    );
    assert.match(await loginError(h, await mint(impostor)), /signature invalid/);
    assert.match(await loginError(h, await mint(stranger)), /unknown key id/);
    assert.match(
      await loginError(h, await mint(k1, { iss: "https://evil" })),
      /issuer not allowed/,
    );
    assert.match(await loginError(h, "not.a.jwt"), /malformed token/);
    assert.match(await loginError(h, await mint(k1), "no-such-role"), /unknown role/);
    assert.equal(h.grants.length, 0);
  }, { perIdentity: { max: 100, windowMs: 60_000 }, perSource: { max: 100, windowMs: 60_000 } });
});

Deno.test("jwt: clock_skew_leeway tolerates a just-expired token; 0 is Vault's 60 s, -1 none", async () => {
  await withJwt(async (h) => {
    const k1 = await signer("k1");
    h.jwks.keys = [k1.jwk];
    await setup(h);
    const now = Math.floor(Date.now() / 1000);
    await login(h, await mint(k1, { exp: now - 30 }));
    assert.equal(h.grants.length, 1);
    await call(h.table, "write", "role/ci", { clock_skew_leeway: -1 });
    assert.equal((await call(h.table, "read", "role/ci"))?.data?.clock_skew_leeway, -1);
    assert.match(await loginError(h, await mint(k1, { exp: now - 30 })), /token expired/);
    await call(h.table, "write", "role/ci", { clock_skew_leeway: "0" });
    assert.equal((await call(h.table, "read", "role/ci"))?.data?.clock_skew_leeway, 60);
    await login(h, await mint(k1, { exp: now - 30 }));
    await call(h.table, "write", "role/ci", { clock_skew_leeway: "-1s" });
    assert.match(await loginError(h, await mint(k1, { exp: now - 30 })), /token expired/);
    await call(h.table, "write", "role/ci", { clock_skew_leeway: "2m" });
    await login(h, await mint(k1, { exp: now - 90 }));
    assert.equal(h.grants.length, 3);
    await assert.rejects(
      () => call(h.table, "write", "role/ci", { clock_skew_leeway: "-x" }),
      /clock_skew_leeway: invalid duration/,
    );
  });
});

Deno.test("jwt: after the issuer rotates its key, tokens with the new kid verify", async () => {
  await withJwt(async (h) => {
    const k1 = await signer("k1");
    const k2 = await signer("k2");
    h.jwks.keys = [k1.jwk];
    await setup(h);
    await login(h, await mint(k1));
    assert.equal(h.fetches(), 1);

    h.jwks.keys = [k2.jwk];
    await login(h, await mint(k2));
    assert.equal(h.grants.length, 2);
    assert.equal(h.fetches(), 2, "the unknown kid triggered one re-fetch");
    // The retired key is gone from the set.
    assert.match(await loginError(h, await mint(k1)), /unknown key id/);
  });
});

Deno.test("jwt: bound_claims must match (lists mean any of; /a/b reaches nested claims)", async () => {
  await withJwt(async (h) => {
    const k1 = await signer("k1");
    h.jwks.keys = [k1.jwk];
    await setup(h);
    assert.match(
      await loginError(h, await mint(k1, { extra: { repo: "acme/other" } })),
      /claim "repo" does not match/,
    );
    assert.match(
      await loginError(h, await mint(k1, { extra: { ns: { env: "dev" } } })),
      /claim "\/ns\/env" does not match/,
    );
    await login(h, await mint(k1, { extra: { ns: { env: "staging" } } }));
    assert.equal(h.grants.length, 1);
  });
});

Deno.test("jwt: static PEM keys are tried in turn", async () => {
  await withJwt(async (h) => {
    const rsa = await signer("r", "RS256");
    const ec = await signer("e", "ES256");
    const other = await signer("e", "ES256");
    await call(h.table, "write", "config", {
      jwt_validation_pubkeys: [await exportSPKI(rsa.publicKey), await exportSPKI(ec.publicKey)],
    });
    await call(h.table, "write", "role/ci", ROLE);
    await login(h, await mint(ec));
    await login(h, await mint(rsa));
    assert.equal(h.grants.length, 2);
    assert.match(await loginError(h, await mint(other)), /signature invalid/);
    assert.equal(h.fetches(), 0);
  });
});

Deno.test("jwt: config and role writes are validated", async () => {
  await withJwt(async (h) => {
    const ec = await signer("e");
    const pem = await exportSPKI(ec.publicKey);
    await assert.rejects(() => call(h.table, "write", "config", {}), /exactly one/);
    await assert.rejects(
      () => call(h.table, "write", "config", { jwks_url: h.jwksUrl, jwt_validation_pubkeys: pem }),
      /exactly one/,
    );
    await assert.rejects(
      () => call(h.table, "write", "config", { jwt_validation_pubkeys: ["-----BEGIN junk"] }),
      /jwt_validation_pubkeys\[0\]/,
    );
    await assert.rejects(
      () => call(h.table, "write", "config", { jwks_url: "file:///etc/passwd" }),
      /jwks_url/,
    );
    await assert.rejects(
      () =>
        call(h.table, "write", "config", {
          jwt_validation_pubkeys: pem,
          jwt_supported_algs: "HS256",
        }),
      /jwt_supported_algs/,
    );
    await call(h.table, "write", "config", { jwt_validation_pubkeys: pem, bound_issuer: ISSUER });
    const cfg = await call(h.table, "read", "config");
    assert.deepEqual(cfg?.data?.jwt_validation_pubkeys, [pem.trim()]);

    await assert.rejects(
      () => call(h.table, "write", "role/r", { user_claim: "sub" }),
      /bound_audiences/,
    );
    await assert.rejects(
      () => call(h.table, "write", "role/r", { bound_audiences: "a", role_type: "oidc" }),
      /role_type/,
    );
    await assert.rejects(
      () => call(h.table, "write", "role/r", { bound_audiences: "a", bound_claims: "{nope" }),
      /bound_claims/,
    );
    await call(h.table, "write", "role/r", {
      bound_audiences: "a,b",
      bound_claims: JSON.stringify({ team: ["x", "y"] }),
    });
    const role = await call(h.table, "read", "role/r");
    assert.deepEqual(role?.data?.bound_audiences, ["a", "b"]);
    assert.deepEqual(role?.data?.bound_claims, { team: ["x", "y"] });
    assert.equal(role?.data?.user_claim, "sub");
    assert.equal(role?.data?.clock_skew_leeway, 60);
    assert.deepEqual((await call(h.table, "list", "role"))?.data?.keys, ["r"]);
  });
});

Deno.test("jwt: repeated failures for a role are answered 429 with Retry-After", async () => {
  await withJwt(async (h) => {
    const k1 = await signer("k1");
    const impostor = await signer("k1");
    h.jwks.keys = [k1.jwk];
    await setup(h);
    for (let i = 0; i < 5; i++) await loginError(h, await mint(impostor));
    const e = await rejection(login(h, await mint(k1)));
    assert.equal(e.status, 429);
    assert.ok(Number(e.headers?.["retry-after"]) > 0);
    h.clock.t += 5 * 60_000 + 1000;
    await login(h, await mint(k1, { exp: Math.floor(h.clock.t / 1000) + 300 }));
    assert.equal(h.grants.length, 1);
  });
});

Deno.test("jwt: deleting a role revokes its tokens", async () => {
  await withJwt(async (h) => {
    const k1 = await signer("k1");
    h.jwks.keys = [k1.jwk];
    await setup(h);
    await call(h.table, "delete", "role/ci");
    assert.deepEqual(h.revoked, ["ci"]);
    await assert.rejects(() => call(h.table, "read", "role/ci"), { status: 404 });
    assert.match(await loginError(h, await mint(k1)), /unknown role/);
  });
});

Deno.test("jwt: an unreachable key set is reported but not held against the caller", async () => {
  await withJwt(async (h) => {
    const k1 = await signer("k1");
    const k2 = await signer("k2");
    h.jwks.keys = [k1.jwk];
    await setup(h);
    // A config whose URL serves no key set is refused and leaves the working one in place.
    await assert.rejects(
      () => call(h.table, "write", "config", { jwks_url: h.jwksUrl.replace("/jwks", "/gone") }),
      { status: 400, message: /^error checking jwks URL: / },
    );
    // The issuer goes down: a token with a key id the cached set lacks makes the server fetch
    // again, which fails; none of it counts as a failed login.
    h.jwksDown = true;
    for (let i = 0; i < 7; i++) {
      assert.match(await loginError(h, await mint(k2)), /key set unavailable/);
    }
    h.jwksDown = false;
    h.jwks.keys = [k1.jwk, k2.jwk];
    await login(h, await mint(k2));
    assert.equal(h.grants.length, 1);
  });
});

Deno.test("jwt: a role deleted while its login is minting is left with no live token", async () => {
  await withJwt(async (h) => {
    const k1 = await signer("k1");
    h.jwks.keys = [k1.jwk];
    await setup(h);
    let open!: () => void;
    h.issueGate.wait = new Promise<void>((r) => open = r);
    const pending = rejection(login(h, await mint(k1)));
    const end = Date.now() + 5000;
    while (!h.issueGate.entered && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    assert.ok(h.issueGate.entered);
    // The delete's revoke runs before the login's token exists.
    await call(h.table, "delete", "role/ci");
    assert.deepEqual(h.revoked, ["ci"]);
    open();
    const e = await pending;
    assert.equal(e.status, 400);
    assert.deepEqual(h.revoked, ["ci", "ci"], "the login revokes what it minted");
  });
});

Deno.test("jwt: the login path's renew hook reloads the role: its limits now, or a refusal", async () => {
  await withJwt(async (h) => {
    await setup(h);
    const spec = h.table.find((c) => c.spec.pattern === "login")!.spec;
    const hook = loginRenewHook(spec)!;
    const held = { role: "ci", policies: ["default", "deploy", "read"], boundCidrs: [] };
    assert.deepEqual(await hook(held), { ttl: 1200, maxTtl: 0 });
    // The tighter of the two caps, as at login.
    await call(h.table, "write", "role/ci", { token_max_ttl: "1h", token_explicit_max_ttl: "30m" });
    assert.deepEqual(await hook(held), { ttl: 1200, maxTtl: 1800 });
    // A token that outlived its role (its revoke failed) is not renewed.
    await call(h.table, "delete", "role/ci");
    await assert.rejects(hook(held), {
      status: 400,
      message: 'role "ci" does not exist during renewal',
    });
  });
});
