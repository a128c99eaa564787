import assert from "node:assert/strict";
import { MAX_BODY_DEPTH, parseBody, readBody, truthy } from "../../core/http/body.ts";
import { AuditDataTooDeep, MAX_DATA_DEPTH, redact } from "../../core/audit/entry.ts";
import { BadRequest } from "../../lib/errors.ts";

const JSON_TYPE = "application/json";
const FORM = "application/x-www-form-urlencoded";

/** `{"a":{"a":…"x"…}}` with `levels` objects, the outer one included. */
function nested(levels: number, open = '{"a":', close = "}"): string {
  return open.repeat(levels - 1) + '{"a":"x"}' + close.repeat(levels - 1);
}

function refused(text: string, re: RegExp, type = JSON_TYPE): void {
  assert.throws(
    () => parseBody(text, type),
    (e: unknown) => e instanceof BadRequest && re.test(e.errors.join(" ")),
    text.length > 80 ? text.slice(0, 80) + "…" : text,
  );
}

Deno.test("body nesting: MAX_BODY_DEPTH levels parse, one more is a 400 naming the limit", () => {
  assert.equal(MAX_BODY_DEPTH, 64);
  // Headroom for the short routes' wrapping and anything else that adds a level on the way.
  assert.ok(MAX_BODY_DEPTH * 2 <= MAX_DATA_DEPTH);
  let v: unknown = parseBody(nested(MAX_BODY_DEPTH), JSON_TYPE);
  let levels = 0;
  while (typeof v === "object" && v !== null) {
    levels++;
    v = (v as { a: unknown }).a;
  }
  assert.equal(levels, MAX_BODY_DEPTH);
  refused(nested(MAX_BODY_DEPTH + 1), /nested too deeply \(at most 64 levels/);
  // Arrays count as levels too, mixed with objects.
  refused(`{"a":${"[".repeat(MAX_BODY_DEPTH)}1${"]".repeat(MAX_BODY_DEPTH)}}`, /nested too deeply/);
  assert.doesNotThrow(() =>
    parseBody(
      `{"a":${"[".repeat(MAX_BODY_DEPTH - 1)}1${"]".repeat(MAX_BODY_DEPTH - 1)}}`,
      JSON_TYPE,
    )
  );
  // Far deeper than any stack: refused, not a RangeError.
  refused(nested(200), /nested too deeply/);
  refused(`{"a":${"[".repeat(500_000)}${"]".repeat(500_000)}}`, /nested too deeply/);
  // The deep branch need not be the first one.
  refused(`{"x":1,"y":[1,2,{"z":${nested(MAX_BODY_DEPTH)}}]}`, /nested too deeply/);
});

Deno.test("a body that passes the parser never trips the audit's depth limit", () => {
  const body = parseBody(nested(MAX_BODY_DEPTH), JSON_TYPE);
  // The short routes wrap a flat body in {"data": …}: one more level.
  assert.doesNotThrow(() => redact(new Uint8Array(32), { data: body }));
  // The audit's refusal is still a RangeError, of its own class.
  let deep: unknown = "x";
  for (let i = 0; i < MAX_DATA_DEPTH + 1; i++) deep = { d: deep };
  assert.throws(() => redact(new Uint8Array(32), deep), AuditDataTooDeep);
  assert.throws(() => redact(new Uint8Array(32), deep), RangeError);
});

Deno.test("numbers whose value the parse would change are refused; exact ones are kept", () => {
  for (
    const [text, key] of [
      ['{"data":{"big":1e400,"p":1}}', "big"],
      ['{"data":{"p":12345678901234567890123}}', "p"],
      ['{"n":-1e400}', "n"],
      ['{"n":9007199254740993}', "n"],
      ['{"n":-9007199254740993}', "n"],
      ['{"n":1e-400}', "n"],
      ['{"n":0.1234567890123456789}', "n"],
      ['{"n":' + "9".repeat(400) + "}", "n"],
      // Every place a number can stand, with JSON whitespace before it.
      ['{"a":[1, \n\t 1e999]}', "1"],
      ['{"a":[\r\n-1E+999]}', "0"],
      ['{"a" :  12345678901234567890}', "a"],
    ]
  ) {
    assert.throws(
      () => parseBody(text, JSON_TYPE),
      (e: unknown) =>
        e instanceof BadRequest &&
        e.errors[0]!.includes(`the number at "${key}" cannot be stored exactly`) &&
        e.errors[0]!.includes("send it as a string"),
      text.slice(0, 60),
    );
  }
  // The message names the key, never the number (the number may be the secret).
  assert.throws(
    () => parseBody('{"pin":98765432109876543210}', JSON_TYPE),
    (e: unknown) => e instanceof BadRequest && !e.errors[0]!.includes("98765"),
  );
  const ok = parseBody(
    JSON.stringify({
      a: 0.1,
      b: 9007199254740992,
      c: 123,
      d: -3.25,
      e: 1e21,
      f: 12345678901234,
      g: 0.30000000000000004,
      h: 100000000000000000000,
      s: "12345678901234567890123 and 1e400 are only text here",
    }).replace('"e":1e+21', '"e":1e21').replace('"c":123', '"c":1.23e2,"z":-0,"y":0e999'),
    JSON_TYPE,
  );
  assert.deepEqual(ok, {
    a: 0.1,
    b: 9007199254740992,
    c: 123,
    z: -0,
    y: 0,
    d: -3.25,
    e: 1e21,
    f: 12345678901234,
    g: 0.30000000000000004,
    h: 1e20,
    s: "12345678901234567890123 and 1e400 are only text here",
  });
});

Deno.test("a form-typed body that opens with { or [ is JSON, as Vault's isForm() has it", () => {
  refused("[]", /the body must be a JSON object/, FORM);
  refused(" \r\n\t[1,2]", /the body must be a JSON object/, FORM);
  refused(
    "[]",
    /the body must be a JSON object/,
    "Application/X-WWW-Form-Urlencoded; charset=utf-8",
  );
  assert.deepEqual(parseBody('  {"ttl":"1h"}', FORM), { ttl: "1h" });
  // Anything else stays a form, as in Vault.
  assert.deepEqual(parseBody("5", FORM), { "5": "" });
  assert.deepEqual(parseBody('"str"', FORM), { '"str"': "" });
  // A repeated key is joined with commas, as Vault's parseFormRequest does.
  assert.deepEqual(parseBody("a=1&b=2&a=3", `${FORM}; charset=utf-8`), { a: "1,3", b: "2" });
  // Not a form type: JSON, and only a JSON object is a body.
  refused("a=1", /invalid JSON/, "text/plain");
  refused("5", /the body must be a JSON object/, JSON_TYPE);
  assert.deepEqual(parseBody(" \n ", JSON_TYPE), {});
});

Deno.test("readBody: size limit and UTF-8 as before, JSON checks applied", async () => {
  const req = (body: string, type = JSON_TYPE) =>
    new Request("http://h/v1/x", { method: "POST", body, headers: { "content-type": type } });
  assert.deepEqual(await readBody(req('{"a":1}'), 100), { a: 1 });
  await assert.rejects(readBody(req(`{"a":"${"x".repeat(200)}"}`), 100), { status: 413 });
  await assert.rejects(readBody(req("[]", FORM), 100), /must be a JSON object/);
  await assert.rejects(readBody(req(nested(100)), 10_000), /nested too deeply/);
  await assert.rejects(readBody(req('{"n":1e400}'), 100), /cannot be stored exactly/);
});

Deno.test("list flag parsing matches Go's strconv.ParseBool; empty or absent is not a list", () => {
  for (const v of ["1", "t", "T", "TRUE", "true", "True"]) assert.equal(truthy(v), true, v);
  for (const v of ["0", "f", "F", "FALSE", "false", "False", "", null]) {
    assert.equal(truthy(v), false, String(v));
  }
  for (const v of ["abc", "yes", "no", "tRUE", " true", "2", "on"]) {
    assert.throws(
      () => truthy(v),
      (e: unknown) => e instanceof BadRequest && /invalid value for "list"/.test(e.errors[0]!),
      v,
    );
  }
});

Deno.test("readBody: a deadline that passes mid-body stops the read and rejects with its error", async () => {
  let cancelled = false;
  let pulls = 0;
  // A body that sends one piece and then nothing more (a client that stalls).
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pulls++ === 0) c.enqueue(new TextEncoder().encode('{"a":'));
      return new Promise(() => {});
    },
    cancel() {
      cancelled = true;
    },
  });
  const req = new Request("http://h/v1/x", {
    method: "POST",
    body: stream,
    headers: { "content-type": JSON_TYPE },
  });
  const deadline = (p: Promise<Uint8Array>, abandon: () => void) =>
    new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        abandon();
        reject(Object.assign(new Error("request timed out"), { status: 408 }));
      }, 50);
      p.then((v) => {
        clearTimeout(timer);
        resolve(v);
      }, (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  await assert.rejects(readBody(req, 1000, deadline), { status: 408 });
  assert.equal(cancelled, true);
  // A body that arrives in time is read as without a deadline.
  const ok = new Request("http://h/v1/x", {
    method: "POST",
    body: '{"a":1}',
    headers: { "content-type": JSON_TYPE },
  });
  assert.deepEqual(await readBody(ok, 1000, deadline), { a: 1 });
});
