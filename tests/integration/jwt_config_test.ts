import assert from "node:assert/strict";
import { call } from "../helpers/test_core.ts";
import { AUD, ISSUER, mint, withJwtCore } from "./jwt_fixtures.ts";

Deno.test("auth/jwt/config fetches the key set before storing it, and keeps a working config", async () => {
  await withJwtCore(async ({ t, jwks, k1, login }) => {
    await call(t, "POST", "auth/jwt/role/ci", { bound_audiences: AUD }, 204);
    const bad: [string, (() => Response) | null, RegExp][] = [
      ["http://127.0.0.1:1/jwks", null, /^error checking jwks URL: /],
      [jwks.url, () => new Response("err", { status: 500 }), /Expected 200 OK/],
      [jwks.url, () => Response.redirect(`${jwks.url}?x`, 302), /Expected 200 OK/],
      [jwks.url, () => new Response("<html>nope</html>"), /Failed to parse/],
      [jwks.url, () => Response.json({ keys: "x" }), /malformed/],
      [
        jwks.url,
        () => Response.json({ keys: [], pad: " ".repeat(2 * 1024 * 1024) }),
        /larger than 1048576 bytes/,
      ],
    ];
    for (const [url, reply, message] of bad) {
      jwks.override = reply;
      const w = await t.req("POST", "/v1/auth/jwt/config", { jwks_url: url, bound_issuer: "x" });
      assert.equal(w.status, 400, `${message}: ${w.text}`);
      assert.match(w.body.errors[0], /^error checking jwks URL: /);
      assert.match(w.body.errors[0], message);
    }
    jwks.override = null;
    // Nothing was stored: the working config (and its issuer) still logs in.
    const cfg = (await call(t, "GET", "auth/jwt/config")).data;
    assert.equal(cfg.jwks_url, jwks.url);
    assert.equal(cfg.bound_issuer, ISSUER);
    const r = await login("ci", await mint(k1));
    assert.equal(r.status, 200, r.text);
  });
});
