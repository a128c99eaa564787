import assert from "node:assert/strict";
import { hasWrappingBounds, wrappingViolation } from "../../core/policy/wrapping.ts";
import { parsePolicy } from "../../core/policy/parse.ts";
import { Acl } from "../../core/policy/acl.ts";

function rule(body: string) {
  return parsePolicy("p", `path "a" { capabilities = ["read"] ${body} }`).rules[0]!;
}

Deno.test("wrappingViolation: a rule without bounds never objects, wrapped or not", () => {
  const r = rule("");
  assert.equal(hasWrappingBounds(r), false);
  for (const ttl of [0, 1, 3600]) assert.equal(wrappingViolation(r, ttl), null);
});

const CASES: [string, number, RegExp | null][] = [
  // [bounds, wrap TTL (0 = not wrapped), expected]
  [`min_wrapping_ttl = "60s" max_wrapping_ttl = "120s"`, 0, /required.*between 60s and 120s/],
  [`min_wrapping_ttl = "60s" max_wrapping_ttl = "120s"`, 10, /10s is below the minimum of 60s/],
  [`min_wrapping_ttl = "60s" max_wrapping_ttl = "120s"`, 300, /300s is above the maximum of 120s/],
  [`min_wrapping_ttl = "60s" max_wrapping_ttl = "120s"`, 60, null],
  [`min_wrapping_ttl = "60s" max_wrapping_ttl = "120s"`, 90, null],
  [`min_wrapping_ttl = "60s" max_wrapping_ttl = "120s"`, 120, null],
  [`min_wrapping_ttl = "1m"`, 0, /required.*of at least 60s/],
  [`min_wrapping_ttl = "1m"`, 59, /below the minimum/],
  [`min_wrapping_ttl = "1m"`, 86400, null],
  [`max_wrapping_ttl = "2m"`, 0, /required.*of at most 120s/],
  [`max_wrapping_ttl = "2m"`, 121, /above the maximum/],
  [`max_wrapping_ttl = "2m"`, 1, null],
];

for (const [bounds, ttl, want] of CASES) {
  Deno.test(`wrappingViolation: { ${bounds} } with wrap TTL ${ttl} → ${want ?? "allowed"}`, () => {
    const r = rule(bounds);
    assert.equal(hasWrappingBounds(r), true);
    const got = wrappingViolation(r, ttl);
    if (want === null) assert.equal(got, null);
    else assert.match(got ?? "", want);
  });
}

Deno.test("wrapping bounds merge across policies to the lesser of each; a merge with max < min admits nothing", () => {
  const acl = new Acl([
    parsePolicy("a", `path "x" { capabilities = ["read"] min_wrapping_ttl = "100s" }`),
    parsePolicy("b", `path "x" { capabilities = ["read"] max_wrapping_ttl = "50s" }`),
    parsePolicy(
      "c",
      `path "y" { capabilities = ["read"] min_wrapping_ttl = "60s" max_wrapping_ttl = "120s" }`,
    ),
    parsePolicy(
      "d",
      `path "y" { capabilities = ["read"] min_wrapping_ttl = "30s" max_wrapping_ttl = "90s" }`,
    ),
  ]);
  const x = acl.check("x", "read", false).rule!;
  assert.equal(x.minWrappingTtl, 100);
  assert.equal(x.maxWrappingTtl, 50);
  for (const ttl of [0, 40, 75, 200]) {
    assert.match(wrappingViolation(x, ttl) ?? "", /no wrapping TTL/);
  }
  const y = acl.check("y", "read", false).rule!;
  assert.equal(y.minWrappingTtl, 30);
  assert.equal(y.maxWrappingTtl, 90);
  assert.equal(wrappingViolation(y, 30), null);
  assert.match(wrappingViolation(y, 100) ?? "", /above the maximum of 90s/);
});
