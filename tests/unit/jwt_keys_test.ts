import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { jwksVerifier, MAX_JWKS_BYTES } from "../../core/auth/jwt/keys.ts";

async function es256(kid: string) {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk: JWK = { ...await exportJWK(publicKey), kid, alg: "ES256", use: "sig" };
  const mint = () =>
    new SignJWT({ sub: "s" }).setProtectedHeader({ alg: "ES256", kid }).setAudience("a")
      .setExpirationTime("5m").sign(privateKey);
  return { jwk, mint };
}

const VERIFY = { algorithms: ["ES256"], audience: "a" };

/** Serves `/jwks` with `handler` on 127.0.0.1 for the length of `fn`. */
async function withServer(
  handler: () => Response,
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/jwks`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("jwksVerifier() stops reading a key set past 1 MiB and refuses it", async () => {
  const k = await es256("k1");
  const MiB = 1024 * 1024;
  const chunk = new TextEncoder().encode(" ".repeat(MiB));
  let sent = 0;
  // A valid set padded to 64 MiB, produced only as fast as it is read, with no length header.
  const handler = () => {
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (i === 0) {
          c.enqueue(new TextEncoder().encode(`{"keys":[${JSON.stringify(k.jwk)}],"p":"`));
        }
        if (i++ === 64) {
          c.enqueue(new TextEncoder().encode('"}'));
          c.close();
          return;
        }
        c.enqueue(chunk);
        sent += chunk.byteLength;
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  };
  await withServer(handler, async (url) => {
    const v = jwksVerifier(url, "", { cooldownMs: 0 });
    try {
      await assert.rejects(v.verify(await k.mint(), VERIFY), {
        name: "RangeError",
        message: `JSON Web Key Set response is larger than ${MAX_JWKS_BYTES} bytes`,
      });
    } finally {
      v.close();
    }
  });
  // What was produced before the cancel reached the server: a few chunks, not the 64 MiB.
  assert.ok(sent < 16 * MiB, `${sent} bytes were produced`);
});

Deno.test("jwksVerifier() refuses a key set whose declared length is past 1 MiB", async () => {
  const k = await es256("k1");
  const padded = JSON.stringify({ keys: [k.jwk], p: " ".repeat(MAX_JWKS_BYTES) });
  await withServer(() => new Response(padded), async (url) => {
    const v = jwksVerifier(url, "");
    try {
      await assert.rejects(v.verify(await k.mint(), VERIFY), /larger than 1048576 bytes/);
    } finally {
      v.close();
    }
  });
  // Just under the cap is fine.
  const under = JSON.stringify({ keys: [k.jwk], p: " ".repeat(MAX_JWKS_BYTES - 1000) });
  await withServer(() => new Response(under), async (url) => {
    const v = jwksVerifier(url, "");
    try {
      assert.equal((await v.verify(await k.mint(), VERIFY)).sub, "s");
    } finally {
      v.close();
    }
  });
});

Deno.test("jwksVerifier() fetches a rotated-in key 5 s after the last fetch, not jose's 30 s", async () => {
  const k1 = await es256("k1");
  const k2 = await es256("k2");
  let keys = [k1.jwk];
  let fetches = 0;
  await withServer(() => {
    fetches++;
    return Response.json({ keys });
  }, async (url) => {
    const v = jwksVerifier(url, "");
    // jose times its cooldown with Date.now: a stepped clock stands in for waiting.
    const realNow = Date.now;
    const start = realNow();
    let offset = 0;
    Date.now = () => start + offset;
    try {
      await v.verify(await k1.mint(), VERIFY);
      assert.equal(fetches, 1);
      keys = [k1.jwk, k2.jwk];
      // Within the cooldown an unknown key id does not fetch: tokens with made-up ids cannot
      // make the server fetch on every request.
      offset = 4_000;
      await assert.rejects(v.verify(await k2.mint(), VERIFY), { code: "ERR_JWKS_NO_MATCHING_KEY" });
      assert.equal(fetches, 1);
      offset = 5_500;
      assert.equal((await v.verify(await k2.mint(), VERIFY)).sub, "s");
      assert.equal(fetches, 2);
    } finally {
      Date.now = realNow;
      v.close();
    }
  });
});
