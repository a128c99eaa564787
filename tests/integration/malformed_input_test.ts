import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";

const BODIES: (string | unknown)[] = [
  "{not json",
  "[1,2,3]",
  '"a string"',
  "42",
  "null",
  { data: "not-an-object" },
  { data: [1, 2] },
  { data: { a: 1 }, options: { cas: "abc" } },
  { data: { a: 1 }, options: { cas: -1 } },
  { data: { a: 1 }, options: "x" },
  { versions: "nope" },
  { versions: [-1, "x"] },
  { versions: [{}] },
  { max_versions: "many" },
  { max_versions: -5 },
  { cas_required: "perhaps" },
  { delete_version_after: "soon" },
  { custom_metadata: "x" },
  { custom_metadata: { k: 5 } },
  { custom_metadata: { secret_type: "banana" } },
  { policy: 12 },
  { policy: 'path "x" { capabilities = ["fly"] }' },
  { policy: 'path "a*b" { capabilities = ["read"] }' },
  { policy: "" },
  { policies: 5 },
  { ttl: "forever" },
  { ttl: -3 },
  { num_uses: "many" },
  { explicit_max_ttl: {} },
  { renewable: "sometimes" },
  { meta: [1] },
  { token: 5 },
  { accessor: ["x"] },
  { increment: "x" },
  { paths: 7 },
  { type: 5 },
  { type: "no-such-engine" },
  { type: "kv", config: { max_lease_ttl: "x" } },
  { key: 12 },
  { key: "zzzz-not-a-share" },
  { secret_shares: "x", secret_threshold: 1 },
  { options: { file_path: 5 } },
  { input: 5 },
  "\u0000\u0001\u0002",
];

const ENDPOINTS: [string, string][] = [
  ["POST", "/v1/secret/data/m/x"],
  ["PATCH", "/v1/secret/data/m/x"],
  ["POST", "/v1/secret/metadata/m/x"],
  ["POST", "/v1/secret/delete/m/x"],
  ["POST", "/v1/secret/undelete/m/x"],
  ["POST", "/v1/secret/destroy/m/x"],
  ["POST", "/v1/secret/config"],
  ["PUT", "/v1/sys/policies/acl/bad"],
  ["PUT", "/v1/sys/policy/bad"],
  ["POST", "/v1/auth/token/create"],
  ["POST", "/v1/auth/token/lookup"],
  ["POST", "/v1/auth/token/lookup-accessor"],
  ["POST", "/v1/auth/token/renew-self"],
  ["POST", "/v1/auth/token/revoke"],
  ["POST", "/v1/sys/capabilities-self"],
  ["POST", "/v1/sys/mounts/newmount"],
  ["POST", "/v1/sys/mounts/secret/tune"],
  ["PUT", "/v1/sys/unseal"],
  ["PUT", "/v1/sys/init"],
  ["PUT", "/v1/sys/audit/f"],
  ["PUT", "/v1/sys/audit-hash/f"],
];

Deno.test("every malformed body gets a 4xx with a Vault error body, never a 5xx", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secret/data/m/x", { data: { v: "1" } });
    for (const [method, path] of ENDPOINTS) {
      for (const body of BODIES) {
        const headers: Record<string, string> = method === "PATCH"
          ? { "content-type": "application/merge-patch+json" }
          : {};
        const r = await t.req(method, path, body, undefined, headers);
        const label = `${method} ${path} ${
          typeof body === "string" ? body : JSON.stringify(body)
        } → ${r.status} ${r.text}`;
        assert.ok(r.status < 500, label);
        if (r.status >= 400) {
          assert.ok(Array.isArray(r.body?.errors), label);
        }
      }
    }
    // The stored secret was not partially overwritten by any of the bad writes.
    const r = await t.req("GET", "/v1/secret/data/m/x");
    assert.deepEqual(r.body.data.data, { v: "1" });
  } finally {
    await t.close();
  }
});

Deno.test("bad queries, methods, content types and sizes are 4xx", async () => {
  const t = await startTestCore({ maxRequestSize: 4096 });
  try {
    const cases: [string, string, unknown, Record<string, string>, number][] = [
      ["GET", "/v1/secret/data/m?version=abc", undefined, {}, 400],
      ["GET", "/v1/secret/data/m?version=-1", undefined, {}, 400],
      ["GET", "/v1/sys/health?sealedcode=abc", undefined, {}, 400],
      ["GET", "/v1/sys/metrics?format=xml", undefined, {}, 400],
      [
        "PATCH",
        "/v1/secret/data/m",
        { data: { a: 1 } },
        { "content-type": "application/json" },
        415,
      ],
      ["PROPFIND", "/v1/secret/data/m", undefined, {}, 405],
      ["POST", "/v1/secret/data/m", { data: { big: "x".repeat(8192) } }, {}, 413],
      ["GET", "/v1/nosuchmount/x", undefined, {}, 404],
      ["GET", "/v1/secret/data/%E0%A4%A", undefined, {}, 400],
      ["GET", "/v1/secret/data/a%00b", undefined, {}, 400],
      ["POST", "/v1/sys/health", {}, {}, 405],
    ];
    for (const [m, p, b, h, want] of cases) {
      const r = await t.req(m, p, b, undefined, h);
      assert.equal(r.status, want, `${m} ${p} → ${r.status} ${r.text}`);
    }
  } finally {
    await t.close();
  }
});

Deno.test("HEAD answers probes (sys/health) but is refused on authenticated paths, so a read with side effects never runs unseen", async () => {
  const t = await startTestCore();
  try {
    const health = await t.req("HEAD", "/v1/sys/health", undefined, null);
    assert.equal(health.status, 200);
    assert.equal(health.text, "");
    await t.req("POST", "/v1/secret/data/h", { data: { a: "1" } });
    const kv = await t.req("HEAD", "/v1/secret/data/h");
    assert.equal(kv.status, 405);
  } finally {
    await t.close();
  }
});
