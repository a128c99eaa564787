import assert from "node:assert/strict";
import {
  formatExpiration,
  generatePassword,
  generateUsername,
  MAX_USERNAME_LENGTH,
  randomString,
  validUntil,
} from "./credentials.ts";

Deno.test("generateUsername() follows Vault's template within PostgreSQL's 63-byte limit", () => {
  const now = Date.UTC(2030, 0, 2, 3, 4, 5);
  const u = generateUsername("token", "readonly", now);
  assert.match(u, /^v-token-readonly-[a-z0-9]{20}-1893553445$/);
  const long = generateUsername("Some.Display Name", "A.Very.Long.Role.Name.Indeed", now);
  assert.match(long, /^v-some_dis-a_very_l-[a-z0-9]{20}-1893553445$/);
  const huge = generateUsername("x".repeat(200), "y".repeat(200), now);
  assert.ok(huge.length <= MAX_USERNAME_LENGTH);
  assert.match(huge, /^[a-z0-9_-]+$/);
  assert.notEqual(generateUsername("t", "r", now), generateUsername("t", "r", now));
});

Deno.test("generatePassword() has 24 characters with a lower, upper, digit and '-'", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const p = generatePassword();
    assert.equal(p.length, 24);
    assert.match(p, /^[A-Za-z0-9-]+$/);
    assert.match(p, /[a-z]/);
    assert.match(p, /[A-Z]/);
    assert.match(p, /[0-9]/);
    assert.ok(p.includes("-"));
    seen.add(p);
  }
  assert.equal(seen.size, 200);
});

Deno.test("randomString() draws only from the charset", () => {
  const s = randomString(1000, "ab");
  assert.match(s, /^[ab]{1000}$/);
  // Both characters appear: not stuck on one value.
  assert.ok(s.includes("a") && s.includes("b"));
});

Deno.test("formatExpiration() prints UTC as 'YYYY-MM-DD HH:MM:SS+00', rounding up", () => {
  assert.equal(formatExpiration(Date.UTC(2030, 0, 2, 3, 4, 5)), "2030-01-02 03:04:05+00");
  assert.equal(formatExpiration(Date.UTC(2030, 0, 2, 3, 4, 5, 1)), "2030-01-02 03:04:06+00");
  assert.equal(formatExpiration(Date.UTC(2030, 11, 31, 23, 59, 59, 678)), "2031-01-01 00:00:00+00");
});

Deno.test("validUntil() ends a login 5 s after its lease, on a whole second", () => {
  assert.equal(validUntil(Date.UTC(2030, 0, 2, 3, 4, 5)), "2030-01-02 03:04:10+00");
  assert.equal(validUntil(Date.UTC(2030, 0, 2, 3, 4, 5, 200)), "2030-01-02 03:04:11+00");
});
