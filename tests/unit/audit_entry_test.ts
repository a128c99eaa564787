import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { AuditEntryBuilder } from "../../core/audit/chain.ts";
import { deepFreeze } from "../../lib/freeze.ts";
import {
  AuditHmac,
  type AuditInput,
  canonicalize,
  HMAC_PREFIX,
  hmacString,
  MAX_DATA_DEPTH,
  redact,
} from "../../core/audit/entry.ts";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 3) & 0xff);

Deno.test("canonicalize sorts keys at every depth and adds no whitespace", () => {
  const a = { b: 1, a: { d: [1, { y: 2, x: "s" }], c: "t" }, "": null };
  const b = { "": null, a: { c: "t", d: [1, { x: "s", y: 2 }] }, b: 1 };
  assert.equal(canonicalize(a), canonicalize(b));
  assert.equal(canonicalize(a), '{"":null,"a":{"c":"t","d":[1,{"x":"s","y":2}]},"b":1}');
});

Deno.test("canonicalize keeps array order and distinguishes types", () => {
  assert.notEqual(canonicalize([1, 2]), canonicalize([2, 1]));
  assert.notEqual(canonicalize({ a: 1 }), canonicalize({ a: "1" }));
  assert.notEqual(canonicalize({ a: null }), canonicalize({}));
  assert.notEqual(canonicalize({ a: true }), canonicalize({ a: "true" }));
  assert.notEqual(canonicalize({ "a,b": 1 }), canonicalize({ a: 1, b: 1 }));
  assert.equal(canonicalize('he said "hi"\n'), JSON.stringify('he said "hi"\n'));
});

Deno.test("canonicalize escapes strings exactly as JSON.stringify does", () => {
  for (let c = 0; c <= 0xffff; c++) {
    const s = "a" + String.fromCharCode(c) + "b";
    assert.equal(canonicalize(s), JSON.stringify(s), `U+${c.toString(16)}`);
    assert.equal(canonicalize({ [s]: 1 }), `{${JSON.stringify(s)}:1}`);
  }
  assert.equal(canonicalize("😀\ud83d"), JSON.stringify("😀\ud83d"));
});

Deno.test("canonicalize is stable across a JSON round trip", () => {
  const v = {
    z: [undefined, NaN, -0, 1e21, 0.1, "é\u0000\ud800😀"],
    u: undefined,
    d: new Date(0),
    n: { "ü": { "B": 1, "a": 2, "é": 3 } },
  };
  const s = canonicalize(v);
  assert.equal(canonicalize(JSON.parse(JSON.stringify(v))), s);
  assert.ok(!s.includes('"u"'));
  assert.ok(s.includes('"1970-01-01T00:00:00.000Z"'));
  assert.ok(s.includes("[null,null,0,1e+21,0.1,"));
});

Deno.test("canonicalize refuses values JSON cannot hold", () => {
  assert.throws(() => canonicalize(10n), TypeError);
  assert.throws(() => canonicalize(undefined), TypeError);
});

Deno.test("the keyed HMAC matches node:crypto createHmac", () => {
  const inputs = ["", "a", "abc", "x".repeat(55), "x".repeat(56), "x".repeat(64), "x".repeat(1000)];
  inputs.push("é€😀\u0000".repeat(50));
  for (let i = 0; i < 200; i++) {
    inputs.push(
      String.fromCharCode(...Array.from({ length: i }, (_, j) => (i * 31 + j * 7) % 0x3000)),
    );
  }
  for (const len of [1, 32, 64, 65, 100]) {
    const key = Uint8Array.from({ length: len }, (_, i) => (i * 13 + len) & 0xff);
    const h = new AuditHmac(key);
    for (const m of inputs) {
      assert.equal(h.hex(m), createHmac("sha256", key).update(m).digest("hex"), `len ${len}`);
    }
  }
  // Repeated use must not leak state between calls.
  const h = new AuditHmac(KEY);
  assert.equal(h.hex("abc"), h.hex("abc"));
});

Deno.test("hmacString tags and depends on the key", () => {
  const t = hmacString(KEY, "s3cr3t-value");
  assert.match(t, /^hmac-sha256:[0-9a-f]{64}$/);
  assert.equal(t, HMAC_PREFIX + createHmac("sha256", KEY).update("s3cr3t-value").digest("hex"));
  assert.notEqual(t, hmacString(new Uint8Array(32), "s3cr3t-value"));
  assert.notEqual(t, hmacString(KEY, "s3cr3t-valuf"));
});

Deno.test("redact HMACs every string and number leaf and keeps structure, booleans and null", () => {
  const raw = "raw-password-\u00e9";
  const input = {
    password: raw,
    nested: { list: [raw, 42, true, null, { deep: raw }], off: false, zero: 0 },
    [raw]: "key names stay readable",
  };
  const snapshot = JSON.stringify(input);
  const out = redact(KEY, input);
  const tag = hmacString(KEY, raw);
  assert.deepEqual(out, {
    password: tag,
    nested: {
      list: [tag, hmacString(KEY, "42"), true, null, { deep: tag }],
      off: false,
      zero: hmacString(KEY, "0"),
    },
    [raw]: hmacString(KEY, "key names stay readable"),
  });
  assert.equal(JSON.stringify(input), snapshot, "redact mutated its input");
  // Only the (deliberately kept) object key may still show the raw text.
  const leaves = JSON.stringify((out as Record<string, unknown>).nested) +
    JSON.stringify((out as Record<string, unknown>).password);
  assert.ok(!leaves.includes("raw-password"), "a raw string leaf survived redaction");
  // A secret that is a number never shows its digits either.
  assert.deepEqual(redact(KEY, { pin: 987654321123 }), { pin: hmacString(KEY, "987654321123") });
});

Deno.test("redact never stores a string in the clear, whatever its container", () => {
  const secret = "sk_live_ABCDEF123456";
  const out = JSON.stringify(
    redact(KEY, [secret, [secret], { a: [{ b: secret }] }, new Date(0), 5n]),
  );
  assert.ok(!out.includes(secret));
  assert.ok(!out.includes("1970-01-01"));
  assert.ok(!out.includes('"5"') && !out.includes(":5"));
  assert.equal(redact(KEY, secret), hmacString(KEY, secret));
});

Deno.test("redact refuses data nested beyond the limit instead of overflowing", () => {
  let ok: unknown = "leaf";
  for (let i = 0; i < MAX_DATA_DEPTH - 1; i++) ok = [ok];
  assert.doesNotThrow(() => redact(KEY, ok));
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => redact(KEY, cyclic), RangeError);
});

Deno.test("a wiped AuditHmac refuses to work", () => {
  const h = new AuditHmac(KEY);
  h.wipe();
  assert.throws(() => h.hex("x"), /wiped/);
});

Deno.test("build writes canonicalize(entry) for every combination of optional fields", () => {
  const builder = new AuditEntryBuilder(KEY);
  const odd = 'q"\\\n\u0001\ud800é';
  for (let mask = 0; mask < 64; mask++) {
    const input: AuditInput = {
      type: mask & 1 ? "exchange" : "request",
      time: "2026-12-07T00:00:00.000Z",
      requestId: "r-" + odd,
      operation: "read",
      path: "secret/data/" + odd,
      remoteAddress: mask & 2 ? "" : "127.0.0.1",
      tokenAccessor: mask & 4 ? "" : "acc" + mask,
      policies: mask & 8 ? [] : ["default", odd],
      result: "ok",
    };
    if (mask & 16) input.status = 200;
    if (mask & 32) input.error = "bad " + odd;
    if (mask & 1) input.data = { b: [1, odd, { z: null }], a: true };
    if (mask & 2) input.alert = true;
    if (mask & 4) input.response = { data: { x: odd }, auth: null };
    const { entry, entryJson } = builder.build(input);
    assert.equal(entryJson, canonicalize(entry), `mask ${mask}`);
  }
});

Deno.test("a frozen reply's HMAC is reused only while it is the same object", () => {
  const builder = new AuditEntryBuilder(KEY);
  const base: AuditInput = {
    type: "exchange",
    time: "t",
    requestId: "r",
    operation: "read",
    path: "p",
    remoteAddress: "",
    tokenAccessor: "",
    policies: [],
    result: "ok",
  };
  const tagOf = (response: AuditInput["response"]) =>
    builder.build({ ...base, response }).entry.response_hmac;
  const fresh = hmacString(KEY, canonicalize({ auth: null, data: { v: "one" } }));
  const shared = deepFreeze({ v: "one" });
  assert.equal(tagOf({ data: shared, auth: null }), fresh);
  assert.equal(tagOf({ data: shared, auth: null }), fresh);
  // Same contents in another object, or anything besides data: hashed as it is.
  assert.equal(
    tagOf({ data: deepFreeze({ v: "two" }), auth: null }),
    hmacString(
      KEY,
      canonicalize({ auth: null, data: { v: "two" } }),
    ),
  );
  const withLease = { data: shared, auth: null, lease: { lease_id: "l" } };
  assert.equal(tagOf(withLease), hmacString(KEY, canonicalize(withLease)));
  const withAuth = { data: shared, auth: { client_token: "x" } };
  assert.equal(tagOf(withAuth), hmacString(KEY, canonicalize(withAuth)));
});

Deno.test("a reply's auth block and wrap_info are recorded with tokens and accessors HMAC'd", () => {
  const builder = new AuditEntryBuilder(KEY);
  const odd = 'q"\\\n\u0001\ud800é';
  const { entry, entryJson } = builder.build({
    type: "response",
    time: "t",
    requestId: "r",
    operation: "update",
    path: "auth/userpass/login/u",
    remoteAddress: "",
    tokenAccessor: "",
    policies: [],
    result: "ok",
    status: 200,
    response: {
      data: null,
      auth: {
        client_token: "hvs.secret-token",
        accessor: "acc-1",
        policies: ["default"],
        metadata: { user: odd },
        lease_duration: 60,
        renewable: true,
        unlisted_field: "dropped",
      },
      wrapInfo: {
        token: "hvs.wrapping",
        accessor: "wacc",
        ttl: 30,
        creation_time: "t",
        creation_path: "p",
        wrapped_accessor: "acc-1",
      },
    },
  });
  assert.equal(entryJson, canonicalize(entry));
  const r = (entry as { response: Record<string, Record<string, unknown>> }).response;
  assert.equal(r.auth!.client_token, hmacString(KEY, "hvs.secret-token"));
  assert.equal(r.auth!.accessor, hmacString(KEY, "acc-1"));
  assert.deepEqual(r.auth!.metadata, { user: hmacString(KEY, odd) });
  assert.deepEqual(r.auth!.policies, ["default"]);
  assert.equal(r.auth!.unlisted_field, undefined);
  assert.equal(r.wrap_info!.token, hmacString(KEY, "hvs.wrapping"));
  assert.equal(r.wrap_info!.wrapped_accessor, hmacString(KEY, "acc-1"));
  for (const clear of ["hvs.secret-token", "hvs.wrapping", "acc-1", "wacc"]) {
    assert.ok(!entryJson.includes(`"${clear}"`), clear);
  }
});
