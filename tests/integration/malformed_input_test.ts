import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";
import { AuditDataTooDeep } from "../../core/audit/entry.ts";

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

/** `{"data":{"a":{"b":{"b":…"x"…}}}}` with `levels` objects in all, the body itself included. */
function nestedBody(levels: number): string {
  return '{"data":{"a":' + '{"b":'.repeat(levels - 2) + '"x"' + "}".repeat(levels - 2) + "}}";
}

Deno.test("deeply nested JSON is a 400 naming the limit, before anything is written or audited", async () => {
  const t = await startTestCore();
  try {
    const failuresBefore = t.core.audit.failures;
    for (const levels of [65, 200, 5000]) {
      const r = await t.req("POST", "/v1/secret/data/deep", nestedBody(levels));
      assert.equal(r.status, 400, r.text);
      assert.match(r.body.errors[0], /nested too deeply \(at most 64 levels/);
    }
    // A delete (its body merged with the query) and the short route are refused the same way.
    const del = await t.req("DELETE", "/v1/secret/data/deep", nestedBody(200));
    assert.equal(del.status, 400, del.text);
    const short = await t.req("POST", "/v1/secrets/deep", nestedBody(200));
    assert.equal(short.status, 400, short.text);
    assert.equal((await t.req("GET", "/v1/secret/data/deep")).status, 404);
    assert.equal(t.core.audit.failures, failuresBefore);
    // 64 levels is fine, also on the short route (which wraps the body in one more level).
    assert.equal((await t.req("POST", "/v1/secret/data/deep", nestedBody(64))).status, 200);
    // 64 levels sent flat: 65 once wrapped, within the audit's limit.
    const flat = '{"a":' + '{"b":'.repeat(63) + '"x"' + "}".repeat(63) + "}";
    assert.equal((await t.req("POST", "/v1/secrets/deep2", flat)).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test("an audit depth refusal is the client's 400, never a 500, and nothing is written", async () => {
  const t = await startTestCore();
  try {
    const audit = t.core.audit;
    const record = audit.record;
    // Data the body parser let through but the audit would refuse (the parser's lower limit
    // keeps this from happening with real bodies): the request must fail as the client's error.
    audit.record = () => {
      throw new AuditDataTooDeep();
    };
    let r;
    try {
      r = await t.req("POST", "/v1/secret/data/refused", { data: { a: "1" } });
    } finally {
      audit.record = record;
    }
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], /nested too deeply/);
    assert.equal((await t.req("GET", "/v1/secret/data/refused")).status, 404);
  } finally {
    await t.close();
  }
});

Deno.test("sys/health code overrides: 200-599 only; 204, 205 and 304 are sent without a body", async () => {
  const t = await startTestCore();
  try {
    const params = [
      "activecode",
      "standbycode",
      "sealedcode",
      "uninitcode",
      "drsecondarycode",
      "performancestandbycode",
    ];
    for (const p of params) {
      for (
        const bad of [
          "100",
          "101",
          "102",
          "103",
          "199",
          "0",
          "600",
          "1000",
          "-200",
          "abc",
          "2e2",
          "0x1F4",
          "",
        ]
      ) {
        for (const m of ["GET", "HEAD"]) {
          const r = await t.req(
            m,
            `/v1/sys/health?${p}=${encodeURIComponent(bad)}`,
            undefined,
            null,
          );
          assert.equal(r.status, 400, `${m} ${p}=${bad} → ${r.status} ${r.text}`);
          if (m === "GET") {
            assert.ok(Array.isArray(r.body?.errors), `${p}=${bad}: ${r.text}`);
            assert.match(r.body.errors[0], new RegExp(`invalid ${p}.*200 to 599`));
          }
        }
      }
    }
    for (const code of [204, 205, 304]) {
      const r = await t.req("GET", `/v1/sys/health?activecode=${code}`, undefined, null);
      assert.equal(r.status, code);
      assert.equal(r.text, "");
    }
    // Read as Go's strconv.Atoi reads Vault's: leading zeros and a plus sign are fine.
    for (const [given, code] of [["0200", 200], ["+429", 429], ["000503", 503]] as const) {
      const r = await t.req("GET", `/v1/sys/health?activecode=${encodeURIComponent(given)}`);
      assert.equal(r.status, code, `${given}: ${r.text}`);
    }
    for (const code of [200, 299, 418, 599]) {
      const r = await t.req("GET", `/v1/sys/health?activecode=${code}`, undefined, null);
      assert.equal(r.status, code);
      assert.equal(r.body.initialized, true);
      const head = await t.req("HEAD", `/v1/sys/health?activecode=${code}`, undefined, null);
      assert.equal(head.status, code);
      assert.equal(head.text, "");
    }
  } finally {
    await t.close();
  }
});

Deno.test("numbers a secret would not get back exactly are a 400; exact ones round-trip", async () => {
  const t = await startTestCore();
  try {
    for (
      const body of [
        '{"data":{"big":1e400,"p":12345678901234567890123}}',
        '{"data":{"p":12345678901234567890123}}',
        '{"data":{"n":-1e400}}',
        '{"data":{"n":9007199254740993}}',
        '{"data":{"list":[1, 2, 1e-400]}}',
      ]
    ) {
      const r = await t.req("POST", "/v1/secret/data/n", body);
      assert.equal(r.status, 400, `${body} → ${r.text}`);
      assert.match(r.body.errors[0], /cannot be stored exactly.*send it as a string/);
    }
    assert.equal((await t.req("GET", "/v1/secret/data/n")).status, 404);
    // Also on PATCH and the short route.
    const patch = await t.req("PATCH", "/v1/secret/data/n", '{"data":{"p":1e400}}');
    assert.equal(patch.status, 400, patch.text);
    const short = await t.req("POST", "/v1/secrets/n", '{"p":12345678901234567890123}');
    assert.equal(short.status, 400, short.text);

    const w = await t.req(
      "POST",
      "/v1/secret/data/n",
      '{"data":{"a":0.1,"b":9007199254740992,"c":1e21,"d":-2.5e-3,"e":42,' +
        '"s":"12345678901234567890123"}}',
    );
    assert.equal(w.status, 200, w.text);
    const r = await t.req("GET", "/v1/secret/data/n");
    assert.ok(r.text.includes('"s":"12345678901234567890123"'), r.text);
    assert.deepEqual(r.body.data.data, {
      a: 0.1,
      b: 9007199254740992,
      c: 1e21,
      d: -0.0025,
      e: 42,
      s: "12345678901234567890123",
    });
  } finally {
    await t.close();
  }
});

Deno.test("curl -d '[]' (form content type) is JSON, not a form: 400 and no token minted", async () => {
  const t = await startTestCore();
  try {
    const accessors = async () =>
      (await t.req("LIST", "/v1/auth/token/accessors")).body.data.keys.length;
    const before = await accessors();
    const form = { "content-type": "application/x-www-form-urlencoded" };
    for (const body of ["[]", "  [ ]", "\n[1,2]", '[{"ttl":"1h"}]']) {
      const r = await t.req("POST", "/v1/auth/token/create", body, undefined, form);
      assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.text}`);
      assert.match(r.body.errors[0], /the body must be a JSON object/);
    }
    assert.equal(await accessors(), before);
    // A JSON object under the form type is JSON, and a real form is still a form.
    const json = await t.req("POST", "/v1/auth/token/create", ' {"ttl":"1h"}', undefined, form);
    assert.equal(json.status, 200, json.text);
    assert.equal(json.body.auth.lease_duration, 3600);
    const real = await t.req("POST", "/v1/auth/token/create", "ttl=2h", undefined, form);
    assert.equal(real.status, 200, real.text);
    assert.equal(real.body.auth.lease_duration, 7200);
  } finally {
    await t.close();
  }
});

Deno.test("?list= is parsed like Vault's strconv.ParseBool; empty is a read, junk is a 400", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secret/data/l", { data: { v: "1" } });
    await t.req("POST", "/v1/secret/data/l/a", { data: { v: "1" } });
    for (const v of ["1", "t", "T", "TRUE", "true", "True"]) {
      const r = await t.req("GET", `/v1/secret/metadata/l?list=${v}`);
      assert.equal(r.status, 200, `list=${v}: ${r.text}`);
      assert.deepEqual(r.body.data.keys, ["a"], `list=${v}`);
    }
    for (const v of ["0", "f", "F", "FALSE", "false", "False", ""]) {
      const r = await t.req("GET", `/v1/secret/metadata/l?list=${v}`);
      assert.equal(r.status, 200, `list=${v}: ${r.text}`);
      assert.equal(r.body.data.current_version, 1, `list=${v} is a read`);
      assert.equal(r.body.data.keys, undefined);
    }
    for (const v of ["abc", "yes", "on", "tRUE", "2"]) {
      const r = await t.req("GET", `/v1/secret/metadata/l?list=${v}`);
      assert.equal(r.status, 400, `list=${v}: ${r.text}`);
      assert.match(r.body.errors[0], /invalid value for "list"/);
    }
  } finally {
    await t.close();
  }
});
