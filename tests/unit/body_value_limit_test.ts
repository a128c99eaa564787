import assert from "node:assert/strict";
import { fromQuery, MAX_BODY_DEPTH, MAX_BODY_VALUES, parseBody } from "../../core/http/body.ts";
import { BadRequest } from "../../lib/errors.ts";

const JSON_TYPE = "application/json";
const FORM = "application/x-www-form-urlencoded";
const TOO_MANY = /^request body has too many values \(at most 10000 /;

function refused(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof BadRequest && re.test(e.errors.join(" ")));
}

/** `{"v":[<n values>]}`: the array is one value, its elements the other n - 1. */
function flat(n: number, leaf = '"a"'): string {
  return `{"v":[${Array(n - 1).fill(leaf).join(",")}]}`;
}

Deno.test("parseBody() takes MAX_BODY_VALUES values and refuses one more", () => {
  assert.equal(MAX_BODY_VALUES, 10_000);
  for (const leaf of ['"a"', "1", "true", "null", "{}", "[]"]) {
    assert.equal((parseBody(flat(MAX_BODY_VALUES, leaf), JSON_TYPE).v as unknown[]).length, 9999);
    refused(() => parseBody(flat(MAX_BODY_VALUES + 1, leaf), JSON_TYPE), TOO_MANY);
  }
  // The fuzzer's body: 10 MB of one-letter strings.
  refused(() => parseBody(flat(2_500_000), JSON_TYPE), TOO_MANY);
});

Deno.test("parseBody() counts values at every depth and in objects", () => {
  const keys = (n: number) =>
    `{${Array.from({ length: n }, (_, i) => `"k${i}":{"x":1,"y":[2]}`).join(",")}}`;
  // Each entry is 4 values: its object, x's number, y's array and its element.
  assert.doesNotThrow(() => parseBody(keys(2500), JSON_TYPE));
  refused(() => parseBody(keys(2501), JSON_TYPE), TOO_MANY);
  // Spread over nested levels, short of the depth limit.
  let deep = flat(MAX_BODY_VALUES / 2);
  deep = `{"a":${deep},"b":${deep}}`;
  refused(() => parseBody(deep, JSON_TYPE), TOO_MANY);
  // The depth limit still applies with few values.
  const nested = `{"a":`.repeat(MAX_BODY_DEPTH + 1) + "1" + "}".repeat(MAX_BODY_DEPTH + 1);
  refused(() => parseBody(nested, JSON_TYPE), /nested too deeply/);
});

Deno.test("parseBody() passes large bodies with few values", () => {
  // A CA bundle or a policy is one string, however long.
  const pem = "-----BEGIN CERTIFICATE-----\n" + "A".repeat(4 << 20) + "\n-----END CERTIFICATE-----";
  assert.equal(parseBody(JSON.stringify({ pem_bundle: pem }), JSON_TYPE).pem_bundle, pem);
  // A KV secret with a few hundred keys.
  const secret = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`key${i}`, `v${i}`]));
  assert.deepEqual(parseBody(JSON.stringify({ data: secret }), JSON_TYPE), { data: secret });
});

Deno.test("parseBody() caps a form's fields, fromQuery() a query's parameters", () => {
  const form = (n: number) => Array.from({ length: n }, (_, i) => `f${i}=a`).join("&");
  assert.equal(Object.keys(parseBody(form(MAX_BODY_VALUES), FORM)).length, MAX_BODY_VALUES);
  refused(() => parseBody(form(MAX_BODY_VALUES + 1), FORM), /too many values \(at most 10000/);
  const query = (n: number) => new URLSearchParams(form(n));
  assert.equal(Object.keys(fromQuery(query(MAX_BODY_VALUES))).length, MAX_BODY_VALUES);
  refused(() => fromQuery(query(MAX_BODY_VALUES + 1)), /too many query parameters/);
});
