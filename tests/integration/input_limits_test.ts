/**
 * Inputs a fuzzer found the server mishandling: bodies of millions of tiny values (the audit
 * stalled on them), megabyte strings through regexes with repeated groups (500s), arrays where a
 * map belongs (stored as {"0": …}), an unparsed sys/health flag, and errors echoing whole values.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { call, type Json, type TestCore, withTestCore } from "../helpers/test_core.ts";
import { MAX_BODY_VALUES } from "../../core/http/body.ts";
import { MAX_HASH_INPUT } from "../../core/sys/tools_routes.ts";

/** Longest error reply any of these refusals may send: a sentence, not the value it refused. */
const SHORT_REPLY = 1024;

/** A token with only the default policy. */
async function defaultToken(t: TestCore): Promise<string> {
  return (await call(t, "POST", "auth/token/create", { policies: ["default"] })).auth.client_token;
}

/** A 400 whose reply (and so its audited error) stays short; returns its first error. */
async function refusedShortly(
  t: TestCore,
  method: string,
  path: string,
  body: unknown,
  token?: string,
): Promise<string> {
  const r = await t.req(method, `/v1/${path}`, body, token);
  assert.equal(r.status, 400, `${path}: ${r.text.slice(0, 300)}`);
  assert.ok(r.text.length < SHORT_REPLY, `${path} echoed ${r.text.length} bytes`);
  return r.body.errors[0];
}

/** No audited error is longer than a sentence. */
function auditErrorsShort(t: TestCore): void {
  for (const row of t.core.physical.auditRows() as Iterable<{ entry: Json }>) {
    const err = row.entry.error;
    if (typeof err === "string") assert.ok(err.length < SHORT_REPLY, `audited ${err.length}`);
  }
}

Deno.test("request bodies: more than MAX_BODY_VALUES values is a 400, on every route", async () => {
  await withTestCore(async (t) => {
    const tok = await defaultToken(t);
    const values = (n: number) => ({ v: Array(n - 1).fill("a") });
    // The fuzzer's 10 MB body of 2.5M one-letter strings, as a default-policy token sends it.
    const huge = JSON.stringify(values(2_500_000));
    for (const path of ["cubbyhole/x", "sys/wrapping/wrap", "secrets/app/x"]) {
      const token = path.startsWith("secrets/") ? t.rootToken : tok;
      const err = await refusedShortly(t, "POST", path, huge, token);
      assert.match(err, /^request body has too many values \(at most 10000 /);
      await refusedShortly(t, "POST", path, values(MAX_BODY_VALUES + 1), token);
    }
    await refusedShortly(t, "POST", "secret/data/x", { data: values(MAX_BODY_VALUES) });
    // Exactly the limit is fine, and nothing of the refused bodies was stored.
    await call(t, "POST", "cubbyhole/x", values(MAX_BODY_VALUES), 204, tok);
    assert.equal((await call(t, "GET", "cubbyhole/x", undefined, 200, tok)).data.v.length, 9999);
    assert.equal((await t.req("GET", "/v1/secret/data/app/x")).status, 404);
    // Real bodies are far below it: a secret of 500 keys, a certificate-sized string.
    const secret = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, `v${i}`]));
    secret.pem = "A".repeat(1 << 20);
    await call(t, "POST", "secret/data/big", { data: secret });
    assert.deepEqual((await call(t, "GET", "secret/data/big")).data.data, secret);
    // A form body counts its fields, a query its parameters.
    const form = Array.from({ length: MAX_BODY_VALUES + 1 }, (_, i) => `f${i}=a`).join("&");
    const r = await t.req("POST", "/v1/cubbyhole/y", form, tok, {
      "content-type": "application/x-www-form-urlencoded",
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], /too many values/);
    const query = "a&".repeat(MAX_BODY_VALUES + 1);
    const q = await t.req("GET", `/v1/cubbyhole/x?${query}`, undefined, tok);
    assert.equal(q.status, 400, q.text.slice(0, 300));
    assert.match(q.body.errors[0], /^too many query parameters \(at most 10000\)$/);
  });
});

Deno.test("sys/tools/hash hashes megabytes of base64 and caps its input", async () => {
  await withTestCore(async (t) => {
    // 6 MiB of data: the old pattern's repeated group overflowed V8's stack here (a 500).
    const data = new Uint8Array(6 << 20).fill(7);
    const input = data.toBase64();
    const r = await call(t, "POST", "sys/tools/hash", { input });
    assert.equal(r.data.sum, createHash("sha256").update(data).digest("hex"));
    // Padding only at the end, two at most, and the length a multiple of 4 (Go's StdEncoding).
    for (const ok of ["", "AA==", "AAA=", "AAAA", "AAAAAA=="]) {
      await call(t, "POST", "sys/tools/hash", { input: ok });
    }
    for (const bad of ["A===", "====", "AA=A", "AAA", "AAAA=", "AA==AA==", "AAA!"]) {
      const err = await refusedShortly(t, "POST", "sys/tools/hash", { input: bad });
      assert.equal(err, "unable to decode input as base64", bad);
    }
    const err = await refusedShortly(t, "POST", "sys/tools/hash", {
      input: "A".repeat(MAX_HASH_INPUT + 4),
    });
    assert.match(err, /^input: is too long \(at most 16777216 characters of base64\)$/);
  });
});

async function pkiWithRole(t: TestCore): Promise<void> {
  await call(t, "POST", "sys/mounts/pki", { type: "pki" }, 204);
  await call(t, "POST", "pki/root/generate/internal", { common_name: "Root" });
  await call(t, "POST", "pki/roles/web", {
    allowed_domains: "example.com",
    allow_subdomains: true,
    allowed_uri_sans: "spiffe://example.com/*",
    leaf_not_after_behavior: "truncate",
  }, 204);
}

Deno.test("pki roles: a megabyte ext_key_usage_oids entry is a 400, not a 500", async () => {
  await withTestCore(async (t) => {
    await pkiWithRole(t);
    const long = "1" + ".1".repeat(4_000_000);
    let err = await refusedShortly(t, "POST", "pki/roles/oids", { ext_key_usage_oids: [long] });
    assert.equal(err, 'invalid ext_key_usage_oids entry "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1."…');
    // What DER cannot encode exactly is refused too: 0 and 1 take second arcs below 40, and no
    // arc may pass 2^53.
    for (
      const bad of ["1", "3.1", "1.40", "0.99", "1..2", "1.2.", "1.2.a", "1.2.1234567890123456"]
    ) {
      err = await refusedShortly(t, "POST", "pki/roles/oids", { ext_key_usage_oids: [bad] });
      assert.equal(err, `invalid ext_key_usage_oids entry ${JSON.stringify(bad)}`);
    }
    await call(t, "POST", "pki/roles/oids", {
      ext_key_usage_oids: ["1.3.6.1.4.1.311.10.3.4", "2.999.1", "1.39"],
    }, 204);
    const read = await call(t, "GET", "pki/roles/oids");
    assert.deepEqual(read.data.ext_key_usage_oids, ["1.3.6.1.4.1.311.10.3.4", "2.999.1", "1.39"]);
    // sign-verbatim takes OIDs straight from the body: they are checked there as well.
    const keys = await crypto.subtle.generateKey(
      { name: "ECDSA", namedCurve: "P-256" },
      true,
      ["sign", "verify"],
    ) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: "CN=v.example.com",
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    });
    err = await refusedShortly(t, "POST", "pki/sign-verbatim", {
      csr: csr.toString("pem"),
      ext_key_usage_oids: ["not-an-oid"],
    });
    assert.equal(err, 'invalid ext_key_usage_oids entry "not-an-oid"');
    const signed = await call(t, "POST", "pki/sign-verbatim", {
      csr: csr.toString("pem"),
      ttl: "1h",
      ext_key_usage_oids: ["1.3.6.1.4.1.311.10.3.4"],
    });
    const eku = new x509.X509Certificate(signed.data.certificate)
      .getExtension(x509.ExtendedKeyUsageExtension);
    assert.deepEqual([...eku?.usages ?? []], ["1.3.6.1.4.1.311.10.3.4"]);
    auditErrorsShort(t);
  });
});

Deno.test("pki issue: an oversized name is refused without echoing it whole", async () => {
  await withTestCore(async (t) => {
    await pkiWithRole(t);
    const base = { common_name: "b.example.com", ttl: "1h" };
    // The fuzzer's 8 MB SAN, and one per SAN field.
    const huge = "a.".repeat(4_000_000) + "example.com";
    for (
      const [field, value, limit] of [
        ["alt_names", huge, 256],
        ["alt_names", `${"a".repeat(250)}.example.com`, 256],
        ["ip_sans", "1".repeat(65), 64],
        ["uri_sans", `spiffe://example.com/${"a".repeat(2048)}`, 2048],
      ] as const
    ) {
      const err = await refusedShortly(t, "POST", "pki/issue/web", { ...base, [field]: value });
      assert.equal(err, `${field}: entries are limited to ${limit} characters`);
    }
    for (const path of ["pki/root/generate/internal", "pki/intermediate/generate/internal"]) {
      const err = await refusedShortly(t, "POST", path, { common_name: "x", alt_names: huge });
      assert.equal(err, "alt_names: entries are limited to 256 characters");
    }
    // Names within the bounds are still shown whole, in Vault's words.
    const other = `${"a".repeat(60)}.evil.org`;
    let err = await refusedShortly(t, "POST", "pki/issue/web", { ...base, alt_names: other });
    assert.equal(err, `subject alternative name ${other} not allowed by this role`);
    err = await refusedShortly(t, "POST", "pki/issue/web", { ...base, ip_sans: "10.0.0.x" });
    assert.equal(err, 'the value "10.0.0.x" is not a valid IP address');
    // A common name up to its 1024-character bound is cut in the error.
    const cn = "c".repeat(1000) + ".evil.org";
    err = await refusedShortly(t, "POST", "pki/issue/web", { ...base, common_name: cn });
    assert.equal(err, `common name ${cn.slice(0, 256)}… not allowed by this role`);
    // Other quoted values: a role name in the body, a serial, a duration.
    err = await refusedShortly(t, "POST", "pki/issue", { ...base, role: "r".repeat(1 << 20) });
    assert.equal(err, `invalid role name "${"r".repeat(32)}"…`);
    const serial = await t.req("GET", `/v1/pki/cert/${"aa:".repeat(3000)}`);
    assert.equal(serial.status, 400);
    assert.match(serial.body.errors[0], /^invalid serial number "(aa:){21}a"…$/);
    err = await refusedShortly(t, "POST", "pki/issue/web", { ...base, ttl: "x".repeat(1 << 20) });
    assert.equal(err, `ttl: invalid duration "${"x".repeat(32)}"…`);
    auditErrorsShort(t);
  });
});

Deno.test("an array where a map belongs is a 400, not a map keyed 0, 1, …", async () => {
  await withTestCore(async (t) => {
    await call(t, "POST", "sys/auth/approle", { type: "approle" }, 204);
    await call(t, "POST", "auth/approle/role/r1", { token_policies: "default" }, 204);
    let err = await refusedShortly(t, "POST", "auth/approle/role/r1/secret-id", {
      metadata: ["x", "y"],
    });
    assert.equal(err, "metadata: must be a map of strings");
    const sid = await call(t, "POST", "auth/approle/role/r1/secret-id", { metadata: { a: "b" } });
    const look = await call(t, "POST", "auth/approle/role/r1/secret-id/lookup", {
      secret_id: sid.data.secret_id,
    });
    assert.deepEqual(look.data.metadata, { a: "b" });

    err = await refusedShortly(t, "POST", "sys/mounts/arrc", { type: "kv-v2", config: ["x"] });
    assert.equal(err, "config: must be a map");
    assert.equal((await t.req("GET", "/v1/sys/mounts/arrc")).status, 400);
    await call(t, "POST", "sys/mounts/mapc", {
      type: "kv-v2",
      config: { max_lease_ttl: "2h" },
    }, 204);
    assert.equal((await call(t, "GET", "sys/mounts/mapc")).data.config.max_lease_ttl, 7200);

    err = await refusedShortly(t, "POST", "sys/auth/arra", { type: "userpass", config: ["x"] });
    assert.equal(err, "config: must be a map");
    err = await refusedShortly(t, "POST", "sys/auth/arro", { type: "userpass", options: ["x"] });
    assert.equal(err, "options: must be a map");
    assert.equal((await t.req("GET", "/v1/sys/auth/arra")).status, 400);
    assert.equal((await t.req("GET", "/v1/sys/auth/arro")).status, 400);
    err = await refusedShortly(t, "POST", "sys/policies/simulate", {
      policies: ["default"],
      path: "secret/data/x",
      operation: "read",
      data: ["x"],
    });
    assert.equal(err, "data: must be a map");
    err = await refusedShortly(t, "POST", "secret/data/arr", { data: { a: "b" }, options: [1] });
    assert.equal(err, "options: must be an object");
    assert.equal((await t.req("GET", "/v1/secret/data/arr")).status, 404);
  });
});

Deno.test("sys/health parses standbyok and perfstandbyok as Vault does", async () => {
  await withTestCore(async (t) => {
    for (const name of ["standbyok", "perfstandbyok"]) {
      for (const bad of ["maybe", "", "yes", "x".repeat(1000)]) {
        const r = await t.req("GET", `/v1/sys/health?${name}=${bad}`, undefined, null);
        assert.equal(r.status, 400, `${name}=${bad}: ${r.text}`);
        assert.match(r.body.errors[0], new RegExp(`^bad value for ${name} parameter: "`));
        assert.ok(r.text.length < SHORT_REPLY);
      }
      for (const ok of ["true", "1", "F", "False"]) {
        const r = await t.req("GET", `/v1/sys/health?${name}=${ok}`, undefined, null);
        assert.equal(r.status, 200, `${name}=${ok}: ${r.text}`);
      }
    }
  });
});
