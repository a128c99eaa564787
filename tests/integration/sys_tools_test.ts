import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startTestCore } from "../helpers/test_core.ts";
import { MAX_RANDOM_BYTES } from "../../core/sys/tools_routes.ts";

const INPUT = "aGVsbG8gdmF1bHQ="; // "hello vault"

Deno.test("sys/tools/hash: Vault's algorithms, URL or body, hex or base64", async () => {
  const t = await startTestCore();
  try {
    const data = new TextEncoder().encode("hello vault");
    const want = (alg: string, enc: "hex" | "base64") => createHash(alg).update(data).digest(enc);
    let r = await t.req("POST", "/v1/sys/tools/hash", { input: INPUT });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.sum, want("sha256", "hex"));
    // Vault's documented example (vaultr's tools$hash of "hello vault").
    assert.match(r.body.data.sum, /^55e702[0-9a-f]{47}92efd40c2a4$/);
    for (
      const [vault, node] of [
        ["sha2-224", "sha224"],
        ["sha2-384", "sha384"],
        ["sha2-512", "sha512"],
        ["sha3-224", "sha3-224"],
        ["sha3-256", "sha3-256"],
        ["sha3-384", "sha3-384"],
        ["sha3-512", "sha3-512"],
      ]
    ) {
      r = await t.req("POST", `/v1/sys/tools/hash/${vault}`, { input: INPUT, format: "base64" });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.data.sum, want(node!, "base64"), vault);
    }
    // Line breaks in the base64 (as base64(1) wraps it) are skipped, as Go's decoder does.
    r = await t.req("POST", "/v1/sys/tools/hash", { input: "aGVsbG8g\r\ndmF1bHQ=\n" });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.sum, want("sha256", "hex"));
    r = await t.req("POST", "/v1/sys/tools/hash", { input: INPUT, algorithm: "sha2-512" });
    assert.equal(r.body.data.sum, want("sha512", "hex"));
    // The default policy allows hashing, as Vault's does.
    await t.req("PUT", "/v1/sys/policies/acl/none", {
      policy: `path "x" { capabilities = ["read"] }`,
    });
    const tok = (await t.req("POST", "/v1/auth/token/create", { policies: ["none"] })).body.auth
      .client_token;
    assert.equal((await t.req("POST", "/v1/sys/tools/hash", { input: INPUT }, tok)).status, 200);
    assert.equal((await t.req("POST", "/v1/sys/tools/random", {}, tok)).status, 403);
  } finally {
    await t.close();
  }
});

Deno.test("sys/tools/hash refuses an unknown algorithm or format and bad base64 with a 400", async () => {
  const t = await startTestCore();
  try {
    for (
      const [path, body, msg] of [
        ["/v1/sys/tools/hash/md5", { input: INPUT }, /unsupported algorithm type "md5"/],
        ["/v1/sys/tools/hash/toString", { input: INPUT }, /unsupported algorithm/],
        ["/v1/sys/tools/hash", { input: INPUT, format: "raw" }, /unsupported encoding format/],
        // Absent is the default; an explicit empty format is refused, as in Vault.
        ["/v1/sys/tools/hash", { input: INPUT, format: "" }, /unsupported encoding format/],
        ["/v1/sys/tools/hash", { input: "not base64!" }, /decode input as base64/],
        ["/v1/sys/tools/hash", { input: "aGk" }, /decode input as base64/],
        ["/v1/sys/tools/hash", {}, /input/],
        ["/v1/sys/tools/hash", { input: 5 }, /input/],
      ] as const
    ) {
      const r = await t.req("POST", path, body);
      assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.text}`);
      assert.match(r.body.errors.join(" "), msg);
    }
  } finally {
    await t.close();
  }
});

Deno.test("sys/tools/random: bytes from the URL or body, source, format, and bounds", async () => {
  const t = await startTestCore();
  try {
    let r = await t.req("POST", "/v1/sys/tools/random", {});
    assert.equal(r.status, 200, r.text);
    assert.equal(atob(r.body.data.random_bytes).length, 32);
    r = await t.req("POST", "/v1/sys/tools/random/164", { format: "hex" });
    assert.match(r.body.data.random_bytes, /^[0-9a-f]{328}$/);
    r = await t.req("POST", "/v1/sys/tools/random/platform/16", { format: "hex" });
    assert.match(r.body.data.random_bytes, /^[0-9a-f]{32}$/);
    r = await t.req("POST", "/v1/sys/tools/random/all", { bytes: 8, format: "hex" });
    assert.match(r.body.data.random_bytes, /^[0-9a-f]{16}$/);
    r = await t.req("POST", `/v1/sys/tools/random/${MAX_RANDOM_BYTES}`, {});
    assert.equal(atob(r.body.data.random_bytes).length, MAX_RANDOM_BYTES);
    const a = (await t.req("POST", "/v1/sys/tools/random", {})).body.data.random_bytes;
    const b = (await t.req("POST", "/v1/sys/tools/random", {})).body.data.random_bytes;
    assert.notEqual(a, b);
    for (
      const [path, body] of [
        ["/v1/sys/tools/random/0", {}],
        [`/v1/sys/tools/random/${MAX_RANDOM_BYTES + 1}`, {}],
        ["/v1/sys/tools/random", { bytes: -1 }],
        ["/v1/sys/tools/random", { bytes: "x" }],
        ["/v1/sys/tools/random/seal", {}],
        ["/v1/sys/tools/random/platform/12x", {}],
        ["/v1/sys/tools/random", { format: "raw" }],
      ] as const
    ) {
      r = await t.req("POST", path, body);
      assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.text}`);
    }
  } finally {
    await t.close();
  }
});
