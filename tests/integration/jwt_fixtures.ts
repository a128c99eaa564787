/**
 * Shared by the JWT auth tests: a real core with the jwt method enabled at auth/jwt/, a JWKS
 * served over HTTP on 127.0.0.1 (its keys and failure mode changeable mid-test), and ES256
 * tokens signed for it.
 */
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { call, type Json, type TestCore, withTestCore } from "../helpers/test_core.ts";

export const ISSUER = "https://ci.example.test";
export const AUD = "secrethub";

export interface Signer {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function signer(kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  return { kid, privateKey, jwk: { ...await exportJWK(publicKey), kid, alg: "ES256", use: "sig" } };
}

/** A token for `s`: the usual claims (sub "repo:acme/app", aud AUD, 5 min), then `claims`. */
export function mint(s: Signer, claims: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: ISSUER,
    aud: AUD,
    sub: "repo:acme/app",
    iat: now - 10,
    exp: now + 300,
    repo: "acme/app",
    ns: { env: "prod" },
    ...claims,
  }).setProtectedHeader({ alg: "ES256", kid: s.kid, typ: "JWT" }).sign(s.privateKey);
}

export interface JwksServer {
  url: string;
  keys: JWK[];
  /** Answers in place of the key set while set (an outage, an oversized or broken body). */
  override: (() => Response) | null;
  fetches: number;
}

export interface JwtCore {
  t: TestCore;
  jwks: JwksServer;
  /** Signs with the key the JWKS serves from the start. */
  k1: Signer;
  /** POST auth/jwt/login without a token; the raw reply. */
  login(role: string, jwt: string): Promise<{ status: number; body: Json; text: string }>;
}

/**
 * Runs `fn` against a fresh core whose jwt mount trusts the local JWKS (bound_issuer ISSUER);
 * roles are left to the test.
 */
export async function withJwtCore(fn: (j: JwtCore) => Promise<void>): Promise<void> {
  const k1 = await signer("k1");
  const jwks: JwksServer = { url: "", keys: [k1.jwk], override: null, fetches: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname !== "/jwks") return new Response("not found", { status: 404 });
    jwks.fetches++;
    return jwks.override ? jwks.override() : Response.json({ keys: jwks.keys });
  });
  jwks.url = `http://127.0.0.1:${server.addr.port}/jwks`;
  try {
    await withTestCore(async (t) => {
      await call(t, "POST", "sys/auth/jwt", { type: "jwt" }, 204);
      await call(t, "POST", "auth/jwt/config", { jwks_url: jwks.url, bound_issuer: ISSUER }, 204);
      await fn({
        t,
        jwks,
        k1,
        login: (role, jwt) => t.req("POST", "/v1/auth/jwt/login", { role, jwt }, null),
      });
    });
  } finally {
    await server.shutdown();
  }
}
