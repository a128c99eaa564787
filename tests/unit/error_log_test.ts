import assert from "node:assert/strict";
import { errorResponse } from "../../core/http/errors.ts";
import { StorageError, storageReason } from "../../core/storage/storage.ts";

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

Deno.test("errorResponse() answers a StorageError 500 with its message, and logs the message", async () => {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (s: string) => lines.push(String(s));
  try {
    const res = errorResponse(
      new StorageError("storage commit failed: database or disk is full"),
      "req-2",
    );
    assert.equal(res.status, 500);
    assert.deepEqual(await res.json(), {
      errors: ["storage commit failed: database or disk is full"],
    });
  } finally {
    console.error = orig;
  }
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]!);
  assert.equal(line["@message"], "storage error");
  assert.equal(line.request_id, "req-2");
  assert.equal(line.error_type, "StorageError");
  assert.equal(line.error, "storage commit failed: database or disk is full");
});

Deno.test("storageReason() keeps SQLite's words and only the type of anything else", () => {
  const sqlite = Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
  assert.equal(storageReason(sqlite), "database or disk is full");
  assert.equal(storageReason(new StorageError("storage is closed")), "storage is closed");
  let parse: unknown;
  try {
    JSON.parse("hunter2-secret");
  } catch (e) {
    parse = e;
  }
  assert.equal(storageReason(parse), "unexpected SyntaxError");
});

Deno.test("errorResponse() treats a request body lost with its connection as a 400, not an internal error", async () => {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (s: string) => lines.push(String(s));
  try {
    const res = errorResponse(
      new Deno.errors.BadResource("Cannot read body as underlying resource unavailable"),
      "req-3",
    );
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), {
      errors: ["request body incomplete: the connection was closed"],
    });
    // Any other BadResource is still an internal error.
    assert.equal(errorResponse(new Deno.errors.BadResource("Bad resource ID"), "r").status, 500);
  } finally {
    console.error = orig;
  }
  assert.ok(!lines.some((l) => /request body incomplete/.test(l) && /"error"/.test(l)));
});
