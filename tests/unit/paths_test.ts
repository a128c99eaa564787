import assert from "node:assert/strict";
import * as np from "node:path";
import { basename, dirname, isAbsolute, join, resolve } from "../../lib/paths.ts";
import { constantTimeEqual, randomBase62 } from "../../lib/web_crypto.ts";
import { sha256Hex } from "../../lib/crypto.ts";

const CASES = ["/", "/a", "/a/b/", "a", "a/b", "./a/../b", "/a/./b/../../c", "../x", "a//b", ""];

Deno.test("paths: the POSIX helpers agree with node:path", () => {
  for (const p of CASES) {
    assert.equal(dirname(p), np.posix.dirname(p), `dirname(${p})`);
    assert.equal(basename(p), np.posix.basename(p), `basename(${p})`);
    assert.equal(isAbsolute(p), np.posix.isAbsolute(p), `isAbsolute(${p})`);
    assert.equal(join("/base", p), np.posix.join("/base", p), `join(/base, ${p})`);
    assert.equal(
      resolve("/etc/secrethub", p),
      np.posix.resolve("/etc/secrethub", p),
      `resolve ${p}`,
    );
  }
  assert.equal(resolve("rel/x"), np.posix.resolve("rel/x"));
  assert.equal(join("a", "..", ".."), np.posix.join("a", "..", ".."));
});

Deno.test("web crypto helpers: equality, randomness alphabet, digest", async () => {
  assert.equal(constantTimeEqual("abc", "abc"), true);
  assert.equal(constantTimeEqual("abc", "abd"), false);
  assert.equal(constantTimeEqual("abc", "abcd"), false);
  assert.equal(constantTimeEqual("", ""), true);
  assert.equal(constantTimeEqual("", "a"), false);
  assert.equal(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
  const r = randomBase62(64);
  assert.match(r, /^[0-9A-Za-z]{64}$/);
  assert.notEqual(r, randomBase62(64));
  // The agent's cache file names come from lib/sha256.ts: it agrees with WebCrypto's digest.
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode("secret/data/web/db")),
  );
  const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(hex, sha256Hex("secret/data/web/db"));
});
