import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";

Deno.test("X-Vault-Wrap-TTL wraps a read; the wrapping token unwraps exactly once", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secret/data/w", { data: { secret_id: "s-123" } });
    let r = await t.req("GET", "/v1/secret/data/w", undefined, undefined, {
      "x-vault-wrap-ttl": "5m",
    });
    assert.equal(r.status, 200);
    assert.equal(r.body.data, null);
    const wrap = r.body.wrap_info;
    assert.equal(wrap.ttl, 300);
    assert.equal(wrap.creation_path, "secret/data/w");
    assert.ok(!r.text.includes("s-123"));

    r = await t.req("POST", "/v1/sys/wrapping/lookup", { token: wrap.token }, null);
    assert.equal(r.body.data.creation_ttl, 300);
    // The wrapping token grants nothing else.
    assert.equal((await t.req("GET", "/v1/secret/data/w", undefined, wrap.token)).status, 403);

    const [a, b] = await Promise.all([
      t.req("POST", "/v1/sys/wrapping/unwrap", undefined, wrap.token),
      t.req("POST", "/v1/sys/wrapping/unwrap", undefined, wrap.token),
    ]);
    const ok = [a, b].filter((x) => x.status === 200);
    assert.equal(ok.length, 1, `${a.status} ${b.status}`);
    assert.equal(ok[0]!.body.data.data.secret_id, "s-123");
    r = await t.req("POST", "/v1/sys/wrapping/unwrap", { token: wrap.token }, null);
    assert.equal(r.status, 400);

    assert.equal(
      (await t.req("GET", "/v1/secret/data/w", undefined, undefined, {
        "x-vault-wrap-ttl": "soon",
      })).status,
      400,
    );
    assert.equal(
      (await t.req("GET", "/v1/secret/data/w", undefined, undefined, { "x-vault-wrap-ttl": "48h" }))
        .status,
      400,
    );
  } finally {
    await t.close();
  }
});

Deno.test("a wrapping token expires with its TTL", async () => {
  const t = await startTestCore();
  try {
    let r = await t.req("POST", "/v1/sys/wrapping/wrap", { k: "v" }, undefined, {
      "x-vault-wrap-ttl": "1",
    });
    assert.equal(r.status, 200);
    const tok = r.body.wrap_info.token;
    await new Promise((res) => setTimeout(res, 1100));
    r = await t.req("POST", "/v1/sys/wrapping/unwrap", { token: tok }, null);
    assert.equal(r.status, 400);
    assert.equal((await t.req("POST", "/v1/sys/wrapping/wrap", { k: "v" })).status, 400);
  } finally {
    await t.close();
  }
});

Deno.test("sys/wrapping/rewrap moves the response to a new token with the original TTL", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secret/data/rw", { data: { secret_id: "rw-secret-1" } });
    let r = await t.req("GET", "/v1/secret/data/rw", undefined, undefined, {
      "x-vault-wrap-ttl": "7m",
    });
    const old = r.body.wrap_info;
    r = await t.req("POST", "/v1/sys/wrapping/rewrap", { token: old.token });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data, null);
    assert.match(r.body.request_id, /^[0-9a-f-]{36}$/);
    const neu = r.body.wrap_info;
    assert.notEqual(neu.token, old.token);
    assert.equal(neu.ttl, 420);
    assert.equal(neu.creation_path, "secret/data/rw");
    assert.ok(!r.text.includes("rw-secret-1"));
    // The old token is spent; the new one unwraps the same response, once.
    r = await t.req("POST", "/v1/sys/wrapping/unwrap", { token: old.token }, null);
    assert.equal(r.status, 400);
    assert.equal(
      (await t.req("POST", "/v1/sys/wrapping/rewrap", { token: old.token })).status,
      400,
    );
    r = await t.req("POST", "/v1/sys/wrapping/lookup", { token: neu.token }, null);
    assert.equal(r.body.data.creation_ttl, 420);
    r = await t.req("POST", "/v1/sys/wrapping/unwrap", { token: neu.token }, null);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.data.secret_id, "rw-secret-1");
    // Two concurrent rewraps of one token: exactly one wins.
    const w = (await t.req("POST", "/v1/sys/wrapping/wrap", { k: "v" }, undefined, {
      "x-vault-wrap-ttl": "60",
    })).body.wrap_info.token;
    const both = await Promise.all([
      t.req("POST", "/v1/sys/wrapping/rewrap", { token: w }),
      t.req("POST", "/v1/sys/wrapping/rewrap", { token: w }),
    ]);
    assert.deepEqual(both.map((x) => x.status).sort(), [200, 400]);
    // A token without a policy naming rewrap is refused; bad input is a 400.
    await t.req("PUT", "/v1/sys/policies/acl/none", {
      policy: `path "x" { capabilities = ["read"] }`,
    });
    const tok = (await t.req("POST", "/v1/auth/token/create", { policies: ["none"] })).body.auth
      .client_token;
    assert.equal((await t.req("POST", "/v1/sys/wrapping/rewrap", { token: "x" }, tok)).status, 403);
    assert.equal((await t.req("POST", "/v1/sys/wrapping/rewrap", { token: 5 })).status, 400);
  } finally {
    await t.close();
  }
});

Deno.test("a wrap TTL over 24h is refused before the handler runs: nothing is created or written", async () => {
  const t = await startTestCore();
  try {
    const count = async () =>
      (await t.req("LIST", "/v1/auth/token/accessors")).body.data.keys.length;
    const before = await count();
    let r = await t.req("POST", "/v1/auth/token/create", { policies: ["default"] }, undefined, {
      "x-vault-wrap-ttl": "25h",
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], /wrap TTL/);
    assert.equal(await count(), before, "no token was minted for nobody");
    r = await t.req("POST", "/v1/secret/data/wrapfail", { data: { a: "1" } }, undefined, {
      "x-vault-wrap-ttl": "48h",
    });
    assert.equal(r.status, 400);
    assert.equal((await t.req("GET", "/v1/secret/data/wrapfail")).status, 404, "nothing written");
  } finally {
    await t.close();
  }
});

Deno.test("sys/wrapping/wrap without real wrapping (TTL 0) is a 400, not the data in clear", async () => {
  const t = await startTestCore();
  try {
    for (const ttl of ["0", "0s"]) {
      const r = await t.req("POST", "/v1/sys/wrapping/wrap", { s: "wrap-me" }, undefined, {
        "x-vault-wrap-ttl": ttl,
      });
      assert.equal(r.status, 400, `${ttl}: ${r.text}`);
      assert.match(r.body.errors[0], /requires response wrapping/);
      assert.ok(!r.text.includes("wrap-me"));
    }
    // Under a second is one second (as Vault, which wraps with any positive TTL).
    for (const ttl of ["1s", "0.5s"]) {
      const ok = await t.req("POST", "/v1/sys/wrapping/wrap", { s: "wrap-me" }, undefined, {
        "x-vault-wrap-ttl": ttl,
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.wrap_info.ttl, 1);
      assert.ok(!ok.text.includes("wrap-me"));
    }
  } finally {
    await t.close();
  }
});

Deno.test("X-Vault-Wrap-TTL under a second still wraps (1 s), never answers in the clear", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secret/data/w", { data: { pw: "never-in-clear" } });
    const r = await t.req("GET", "/v1/secret/data/w", undefined, undefined, {
      "x-vault-wrap-ttl": "500ms",
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data, null);
    assert.equal(r.body.wrap_info.ttl, 1);
    assert.ok(!r.text.includes("never-in-clear"));
  } finally {
    await t.close();
  }
});
