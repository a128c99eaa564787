import assert from "node:assert/strict";
import { errorResponse } from "../../core/http/errors.ts";

Deno.test("errorResponse() hides an internal error's message from the client and the log", async () => {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (s: string) => lines.push(String(s));
  try {
    let thrown: unknown;
    try {
      // V8 quotes the input in this message, so logging it would leak the value.
      JSON.parse("hunter2-secret");
    } catch (e) {
      thrown = e;
    }
    const res = errorResponse(thrown, "req-1");
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), { errors: ["internal error"] });
  } finally {
    console.error = orig;
  }
  assert.equal(lines.length, 1);
  assert.equal(lines.join("").includes("hunter2"), false);
  assert.match(lines[0]!, /SyntaxError/);
});
