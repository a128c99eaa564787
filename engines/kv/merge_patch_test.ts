import assert from "node:assert/strict";
import { mergePatch } from "./merge_patch.ts";

Deno.test("mergePatch() follows RFC 7396", () => {
  const target = { a: "b", c: { d: "e", f: "g" }, keep: [1, 2] };
  const out = mergePatch(target, { a: "z", c: { f: null, h: 1 }, keep: [3], n: { x: null } });
  assert.deepEqual(out, { a: "z", c: { d: "e", h: 1 }, keep: [3], n: {} });
  assert.deepEqual(target, { a: "b", c: { d: "e", f: "g" }, keep: [1, 2] }, "input untouched");
});

Deno.test("mergePatch() keeps a __proto__ key as data", () => {
  const out = mergePatch(JSON.parse('{"__proto__":{"x":1}}'), JSON.parse('{"__proto__":{"y":2}}'));
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(JSON.stringify(out), '{"__proto__":{"x":1,"y":2}}');
});
