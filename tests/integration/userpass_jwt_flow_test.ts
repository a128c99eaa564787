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

Deno.test("login lockout counts per auth mount: failures elsewhere never lock a user out", async () => {
  const t = await startTestCore();
  try {
    for (
      const [path, type] of [["approle", "approle"], ["userpass", "userpass"], ["up2", "userpass"]]
    ) {
      assert.equal((await t.req("POST", `/v1/sys/auth/${path}`, { type })).status, 204);
    }
    for (const m of ["userpass", "up2"]) {
      const r = await t.req("POST", `/v1/auth/${m}/users/frank`, { password: "right" });
      assert.equal(r.status, 204, r.text);
    }
    const loginAs = (m: string, password: string) =>
      t.req("POST", `/v1/auth/${m}/login/frank`, { password }, null);
    // An AppRole role-id spelled like another method's identity must not count against it.
    for (let i = 0; i < 5; i++) {
      const r = await t.req("POST", "/v1/auth/approle/login", {
        role_id: "userpass:frank",
        secret_id: "x",
      }, null);
      assert.equal(r.status, 400, r.text);
    }
    assert.equal((await loginAs("userpass", "right")).status, 200);
    // Locking frank out at one userpass mount leaves the other one alone.
    for (let i = 0; i < 5; i++) assert.equal((await loginAs("up2", `wrong-${i}`)).status, 400);
    assert.equal((await loginAs("up2", "right")).status, 429);
    assert.equal((await loginAs("userpass", "right")).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test("auth mount TTLs: set at enable and by tune, and login tokens get and keep to them", async () => {
  const t = await startTestCore();
  try {
    let r = await t.req("POST", "/v1/sys/auth/up2", {
      type: "userpass",
      config: { default_lease_ttl: "10m", max_lease_ttl: "20m" },
    });
    assert.equal(r.status, 204, r.text);
    assert.equal((await t.req("POST", "/v1/sys/auth/userpass", { type: "userpass" })).status, 204);
    r = await t.req("POST", "/v1/sys/auth/userpass/tune", {
      default_lease_ttl: "30m",
      max_lease_ttl: "1h",
    });
    assert.equal(r.status, 204, r.text);
    r = await t.req("GET", "/v1/sys/auth/userpass/tune");
    assert.equal(r.body.data.default_lease_ttl, 1800);
    assert.equal(r.body.data.max_lease_ttl, 3600);
    r = await t.req("GET", "/v1/sys/auth");
    assert.equal(r.body.data["up2/"].config.default_lease_ttl, 600);
    assert.equal(r.body.data["up2/"].config.max_lease_ttl, 1200);
    assert.equal(r.body.data["userpass/"].config.max_lease_ttl, 3600);
    // A default above the max is refused, and nothing changes.
    r = await t.req("POST", "/v1/sys/auth/userpass/tune", { default_lease_ttl: "2h" });
    assert.equal(r.status, 400, r.text);
    r = await t.req("POST", "/v1/sys/auth/up3", {
      type: "userpass",
      config: { default_lease_ttl: "2h", max_lease_ttl: "1h" },
    });
    assert.equal(r.status, 400, r.text);
    assert.equal(
      (await t.req("GET", "/v1/sys/auth/userpass/tune")).body.data.default_lease_ttl,
      1800,
    );

    const user = async (m: string, name: string, extra: Record<string, unknown> = {}) => {
      const w = await t.req("POST", `/v1/auth/${m}/users/${name}`, { password: "pw", ...extra });
      assert.equal(w.status, 204, w.text);
      const l = await t.req("POST", `/v1/auth/${m}/login/${name}`, { password: "pw" }, null);
      assert.equal(l.status, 200, l.text);
      return l.body.auth;
    };
    assert.equal((await user("userpass", "alice")).lease_duration, 1800);
    assert.equal((await user("up2", "alice")).lease_duration, 600);
    // A role TTL above the mount's max is cut down to it, and so is every renewal.
    const bob = await user("userpass", "bob", { token_ttl: "3h" });
    assert.equal(bob.lease_duration, 3600);
    r = await t.req("POST", "/v1/auth/token/renew-self", { increment: "5h" }, bob.client_token);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.auth.lease_duration <= 3600, String(r.body.auth.lease_duration));
  } finally {
    await t.close();
  }
});

Deno.test("a login token's max TTL is not shown as explicit_max_ttl; bound_cidrs are", async () => {
  const t = await startTestCore();
  try {
    assert.equal((await t.req("POST", "/v1/sys/auth/userpass", { type: "userpass" })).status, 204);
    let r = await t.req("POST", "/v1/auth/userpass/users/carol", {
      password: "pw",
      token_ttl: "60s",
      token_max_ttl: "120s",
      token_bound_cidrs: "127.0.0.1/32",
    });
    assert.equal(r.status, 204, r.text);
    r = await t.req("POST", "/v1/auth/userpass/login/carol", { password: "pw" }, null);
    assert.equal(r.status, 200, r.text);
    const tok = r.body.auth.client_token;
    assert.equal(r.body.auth.lease_duration, 60);
    r = await t.req("GET", "/v1/auth/token/lookup-self", undefined, tok);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.explicit_max_ttl, 0);
    assert.deepEqual(r.body.data.bound_cidrs, ["127.0.0.1/32"]);
    // Still enforced: a renewal never passes token_max_ttl.
    r = await t.req("POST", "/v1/auth/token/renew-self", { increment: "1h" }, tok);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.auth.lease_duration <= 120, String(r.body.auth.lease_duration));
    // A token without bound CIDRs has no bound_cidrs key, as in Vault.
    r = await t.req("GET", "/v1/auth/token/lookup-self");
    assert.equal("bound_cidrs" in r.body.data, false);
  } finally {
    await t.close();
  }
});
