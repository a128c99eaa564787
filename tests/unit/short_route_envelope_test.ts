import assert from "node:assert/strict";
import { isKvEnvelope } from "../../core/http/pipeline.ts";

Deno.test("isKvEnvelope: an object data with at most options beside it, nothing else", () => {
  assert.equal(isKvEnvelope({ data: { x: 1 } }), true);
  assert.equal(isKvEnvelope({ data: {} }), true);
  assert.equal(isKvEnvelope({ data: { x: 1 }, options: { cas: 1 } }), true);
  assert.equal(isKvEnvelope({ data: { x: 1 }, name: "n" }), false);
  assert.equal(isKvEnvelope({ data: { x: 1 }, options: {}, name: "n" }), false);
  assert.equal(isKvEnvelope({ data: "x" }), false);
  assert.equal(isKvEnvelope({ data: ["x"] }), false);
  assert.equal(isKvEnvelope({ data: null }), false);
  assert.equal(isKvEnvelope({ options: { cas: 1 } }), false);
  assert.equal(isKvEnvelope({}), false);
  assert.equal(isKvEnvelope(JSON.parse('{"data":{"x":1},"__proto__":{"y":2}}')), false);
});
