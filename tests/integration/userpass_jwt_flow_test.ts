import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { startTestCore } from "../helpers/test_core.ts";

Deno.test("userpass over HTTP: login, wrong password generic error, lockout → 429", async () => {
  const t = await startTestCore();
  try {
    assert.equal((await t.req("POST", "/v1/sys/auth/userpass", { type: "userpass" })).status, 204);
    assert.equal(
      (await t.req("POST", "/v1/auth/userpass/users/alice", {
        password: "correct horse",
        token_policies: "default",
      })).status,
      204,
    );
    let r = await t.req(
      "POST",
      "/v1/auth/userpass/login/alice",
      { password: "correct horse" },
      null,
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.auth.metadata.username, "alice");
    r = await t.req("POST", "/v1/auth/userpass/login/alice", { password: "wrong" }, null);
    assert.deepEqual(r.body.errors, ["invalid credentials"]);
    let status = 0;
    for (let i = 0; i < 8 && status !== 429; i++) {
      status =
        (await t.req("POST", "/v1/auth/userpass/login/alice", { password: `wrong-${i}` }, null))
          .status;
    }
    assert.equal(status, 429);
    // Locked out even with the right password until the window passes.
    assert.equal(
      (await t.req("POST", "/v1/auth/userpass/login/alice", { password: "correct horse" }, null))
        .status,
      429,
    );
    const rows = JSON.stringify([...t.core.physical.auditRows()]);
    assert.equal(rows.includes("correct horse"), false);
  } finally {
    await t.close();
  }
});

Deno.test("JWT over HTTP with a JWKS served on 127.0.0.1", async () => {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const jwks = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => Response.json({ keys: [jwk] }),
  );
  const t = await startTestCore();
  try {
    const url = `http://127.0.0.1:${jwks.addr.port}/jwks`;
    await t.req("POST", "/v1/sys/auth/jwt", { type: "jwt" });
    let r = await t.req("POST", "/v1/auth/jwt/config", {
      jwks_url: url,
      bound_issuer: "https://ci.example",
    });
    assert.equal(r.status, 204, r.text);
    r = await t.req("POST", "/v1/auth/jwt/role/ci", {
      role_type: "jwt",
      bound_audiences: ["secrethub"],
      user_claim: "sub",
      token_policies: ["default"],
      bound_claims: { repo: "acme/app" },
    });
    assert.equal(r.status, 204, r.text);
    const sign = (claims: Record<string, unknown>, aud = "secrethub") =>
      new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(
        "https://ci.example",
      )
        .setAudience(aud).setSubject("job-1").setIssuedAt().setExpirationTime("5m").sign(
          privateKey,
        );
    r = await t.req("POST", "/v1/auth/jwt/login", {
      role: "ci",
      jwt: await sign({ repo: "acme/app" }),
    }, null);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.auth.client_token);
    r = await t.req("POST", "/v1/auth/jwt/login", {
      role: "ci",
      jwt: await sign({ repo: "acme/app" }, "other"),
    }, null);
    assert.equal(r.status, 400);
    r = await t.req("POST", "/v1/auth/jwt/login", {
      role: "ci",
      jwt: await sign({ repo: "evil/app" }),
    }, null);
    assert.equal(r.status, 400);
  } finally {
    await t.close();
    await jwks.shutdown();
  }
});
