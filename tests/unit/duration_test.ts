import assert from "node:assert/strict";
import { parseDuration } from "../../lib/duration.ts";

Deno.test("parseDuration: whole seconds, rounded down, but a positive value never becomes 0", () => {
  assert.equal(parseDuration("90s"), 90);
  assert.equal(parseDuration("1h30m"), 5400);
  assert.equal(parseDuration("1.5s"), 1);
  assert.equal(parseDuration("2500ms"), 2);
  assert.equal(parseDuration(120), 120);
  // Zero means "unset" to most callers (a 768 h token, no wrapping): 500ms is 1 s, not that.
  for (const sub of ["500ms", "1ms", "1ns", "0.2s", 0.5]) {
    assert.equal(parseDuration(sub), 1, `${sub}`);
  }
  for (const zero of ["0", "0s", "0ms", "", 0]) assert.equal(parseDuration(zero), 0, `${zero}`);
  assert.throws(() => parseDuration("soon"), RangeError);
  assert.throws(() => parseDuration(-1), RangeError);
});
