import assert from "node:assert/strict";
import { v } from "../sdk.ts";
import { customMetadataWrite } from "./custom_metadata.ts";
import { listQuery, matchesFilter } from "./list_filter.ts";
import { folderPath, secretPath } from "./key_path.ts";

Deno.test("customMetadataWrite coerces scalars and checks well-known keys", () => {
  assert.deepEqual(v.parse(customMetadataWrite, { n: 1, b: true, s: "x" }), {
    n: "1",
    b: "true",
    s: "x",
  });
  assert.deepEqual(v.parse(customMetadataWrite, '{"a":"b"}'), { a: "b" });
  assert.deepEqual(v.parse(customMetadataWrite, null), {});
  for (
    const bad of [
      { secret_type: "nope" },
      { rotation_period: "x" },
      { rotation_period: "0" },
      { k: "" },
      { "": "v" },
      { k: "a\tb" },
      { k: null },
      { k: { x: 1 } },
    ]
  ) assert.equal(v.safeParse(customMetadataWrite, bad).success, false, JSON.stringify(bad));
  assert.equal(
    v.safeParse(customMetadataWrite, { secret_type: "ssh_key", rotation_period: "30d" }).success,
    true,
  );
});

Deno.test("matchesFilter() needs every given filter, and every tag", () => {
  const m = { service: "pay", environment: "prod", tags: "db, critical" };
  const q = (x: Record<string, unknown>) => v.parse(listQuery, x);
  assert.equal(matchesFilter(m, q({ service: "pay", tag: "critical" })), true);
  assert.equal(matchesFilter(m, q({ tag: "db,critical" })), true);
  assert.equal(matchesFilter(m, q({ tag: "db,other" })), false);
  assert.equal(matchesFilter(m, q({ environment: "dev" })), false);
  assert.equal(matchesFilter(null, q({ secret_type: "token" })), false);
});

Deno.test("secretPath() and folderPath() refuse ambiguous paths", () => {
  assert.equal(secretPath("a/b"), "a/b");
  assert.equal(folderPath("a/b/"), "a/b/");
  assert.equal(folderPath("a/b"), "a/b/");
  assert.equal(folderPath(""), "");
  for (const bad of ["a//b", "a/", "../x", "a/./b", "a\u0000b"]) {
    assert.throws(() => secretPath(bad), { name: "BadRequest" }, bad);
  }
  assert.throws(() => folderPath("a//"), { name: "BadRequest" });
});
