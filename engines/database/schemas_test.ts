import assert from "node:assert/strict";
import { BadRequest } from "../sdk.ts";
import { checkName, roleAllowed } from "./schemas.ts";

Deno.test("roleAllowed() honours '*', exact names and globs, and allows nothing by default", () => {
  assert.equal(roleAllowed([], "ro"), false);
  assert.equal(roleAllowed(["*"], "ro"), true);
  assert.equal(roleAllowed(["rw", "ro"], "ro"), true);
  assert.equal(roleAllowed(["rw"], "ro"), false);
  assert.equal(roleAllowed(["app-*"], "app-ro"), true);
  assert.equal(roleAllowed(["app-*"], "xapp-ro"), false);
  // Regex metacharacters in an entry are literal.
  assert.equal(roleAllowed(["a.b*"], "axb1"), false);
  assert.equal(roleAllowed(["a.b*"], "a.b1"), true);
});

Deno.test("checkName() accepts Vault's name shape and refuses others", () => {
  assert.equal(checkName("role", "read.only-1"), "read.only-1");
  for (const bad of ["-x", "x-", "a b", "a'b", ""]) {
    assert.throws(() => checkName("role", bad), BadRequest);
  }
});
