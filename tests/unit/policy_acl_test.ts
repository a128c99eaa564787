import assert from "node:assert/strict";
import { Acl, type AclResult } from "../../core/policy/acl.ts";
import { parsePolicy } from "../../core/policy/parse.ts";
import { DEFAULT_POLICY_HCL } from "../../core/policy/defaults.ts";
import type { Operation, Policy } from "../../core/policy/types.ts";

/** The decision without the winning rule object and the reason (checked where they matter). */
function decision(r: AclResult): Omit<AclResult, "rule" | "reason"> {
  const { rule: _rule, reason: _reason, ...rest } = r;
  return rest;
}

let counter = 0;
function pol(hcl: string): Policy {
  return parsePolicy(`p${counter++}`, hcl);
}

function block(pattern: string, caps: string[]): string {
  return `path ${JSON.stringify(pattern)} { capabilities = ${JSON.stringify(caps)} }\n`;
}

/** One policy per pattern → capabilities entry. */
function aclOf(rules: Record<string, string[]>): Acl {
  return new Acl(Object.entries(rules).map(([p, caps]) => pol(block(p, caps))));
}

const MATCHING: { pattern: string; path: string; matches: boolean }[] = [
  { pattern: "secret/foo", path: "secret/foo", matches: true },
  { pattern: "secret/foo", path: "secret/foo/bar", matches: false },
  { pattern: "secret/foo", path: "secret/fo", matches: false },
  { pattern: "secret/foo", path: "/secret/foo", matches: true },
  { pattern: "secret/zip-*", path: "secret/zip-zap/zong", matches: true },
  { pattern: "secret/zip-*", path: "secret/zip-", matches: true },
  { pattern: "secret/zip-*", path: "secret/zip", matches: false },
  { pattern: "secret/*", path: "secret/", matches: true },
  { pattern: "secret/*", path: "secret", matches: false },
  { pattern: "*", path: "anything/at/all", matches: true },
  { pattern: "secret/+/teamb", path: "secret/a/teamb", matches: true },
  { pattern: "secret/+/teamb", path: "secret/a/b/teamb", matches: false },
  { pattern: "secret/+/teamb", path: "secret/teamb", matches: false },
  { pattern: "secret/+/teamb", path: "secret/a/teamb/x", matches: false },
  { pattern: "+/config", path: "kv/config", matches: true },
  { pattern: "+", path: "kv", matches: true },
  { pattern: "+", path: "kv/x", matches: false },
  { pattern: "secret/+/app-*", path: "secret/x/app-1/y", matches: true },
  { pattern: "secret/+/app-*", path: "secret/x/other", matches: false },
  { pattern: "secret/+/*", path: "secret/x/", matches: true },
  { pattern: "secret/+/*", path: "secret/x", matches: false },
  { pattern: "secret/+/+", path: "secret/a/b", matches: true },
  // Regex metacharacters are literal.
  { pattern: "secret/a.b", path: "secret/aXb", matches: false },
  { pattern: "secret/a.b", path: "secret/a.b", matches: true },
  { pattern: "secret/(x)*", path: "secret/(x)y", matches: true },
  { pattern: "secret/(x)*", path: "secret/x", matches: false },
  { pattern: "secret/[ab]+/*", path: "secret/a/z", matches: false },
  { pattern: "secret/[ab]+/*", path: "secret/[ab]+/z", matches: true },
  { pattern: "a|b*", path: "a", matches: false },
  { pattern: "secret/.*", path: "secret/xyz", matches: false },
];

for (const c of MATCHING) {
  Deno.test(
    `Acl.check() ${c.matches ? "matches" : "does not match"} ${c.pattern} against ${c.path}`,
    () => {
      const r = aclOf({ [c.pattern]: ["read"] }).check(c.path, "read");
      assert.equal(r.allowed, c.matches);
      assert.equal(r.matchedPath, c.matches ? c.pattern : null);
    },
  );
}

/** For each case the `winner` pattern must decide `path`; the loser grants a different op. */
const PRIORITY: { rule: string; winner: string; loser: string; path: string }[] = [
  {
    rule: "1: a later first glob wins",
    winner: "secret/a/*",
    loser: "secret/*",
    path: "secret/a/b",
  },
  {
    rule: "1: a later first + wins",
    winner: "secret/a/+",
    loser: "secret/+/b",
    path: "secret/a/b",
  },
  { rule: "2: not ending in * wins", winner: "foo/+", loser: "foo/*", path: "foo/bar" },
  { rule: "2: not ending in * wins (+)", winner: "x/+/b", loser: "x/+/b*", path: "x/1/b" },
  { rule: "3: fewer + segments win", winner: "s/+/b/c", loser: "s/+/+/c", path: "s/a/b/c" },
  { rule: "4: the longer pattern wins", winner: "s/+/bar*", loser: "s/+/b*", path: "s/x/barn" },
  { rule: "5: the lexically higher wins", winner: "x/+/a/+", loser: "x/+/+/b", path: "x/1/a/b" },
];

for (const c of PRIORITY) {
  Deno.test(`Acl.check() applies priority rule ${c.rule}`, () => {
    // Insertion order must not matter: try both.
    for (const order of [[c.winner, c.loser], [c.loser, c.winner]]) {
      const acl = new Acl(order.map((p) => pol(block(p, p === c.winner ? ["read"] : ["list"]))));
      const read = acl.check(c.path, "read");
      assert.equal(read.allowed, true, `${c.winner} should grant read on ${c.path}`);
      assert.equal(read.matchedPath, c.winner);
      assert.deepEqual(read.capabilities, ["read"]);
      // The loser's capability is not combined in.
      assert.equal(acl.check(c.path, "list").allowed, false);
      assert.deepEqual(acl.capabilities(c.path), ["read"]);
    }
  });
}

Deno.test("Acl.check() prefers the exact path over a glob", () => {
  const acl = aclOf({
    "secret/*": ["create", "read", "update", "delete", "list"],
    "secret/foo": ["read"],
  });
  const r = acl.check("secret/foo", "update");
  assert.deepEqual(decision(r), {
    allowed: false,
    capabilities: ["read"],
    matchedPath: "secret/foo",
    sudo: false,
  });
  assert.equal(acl.check("secret/foo", "read").allowed, true);
  assert.equal(acl.check("secret/foo2", "update").allowed, true);
});

Deno.test("Acl.check() uses only the most specific pattern across policies", () => {
  const acl = aclOf({ "secret/*": ["read"], "secret/app/*": ["list"] });
  assert.equal(acl.check("secret/app/x", "read").allowed, false);
  assert.equal(acl.check("secret/app/x", "list").allowed, true);
  assert.equal(acl.check("secret/other", "read").allowed, true);
});

Deno.test("Acl.check() unions capabilities of the same pattern across policies", () => {
  const acl = new Acl([
    pol(block("secret/*", ["read"])),
    pol(block("secret/*", ["list", "update"])),
  ]);
  const r = acl.check("secret/a", "update");
  assert.deepEqual(decision(r), {
    allowed: true,
    capabilities: ["read", "update", "list"],
    matchedPath: "secret/*",
    sudo: false,
  });
  assert.deepEqual(acl.capabilities("secret/a"), ["list", "read", "update"]);
});

Deno.test("Acl.check() lets deny in one policy win over grants of the same pattern in another", () => {
  const acl = new Acl([
    pol(block("secret/*", ["read", "list", "sudo"])),
    pol(block("secret/*", ["deny"])),
    pol(block("secret/*", ["update"])),
  ]);
  for (const op of ["read", "list", "update"] as Operation[]) {
    assert.deepEqual(decision(acl.check("secret/a", op)), {
      allowed: false,
      capabilities: ["deny"],
      matchedPath: "secret/*",
      sudo: false,
    });
  }
  assert.deepEqual(acl.capabilities("secret/a"), ["deny"]);
});

Deno.test("Acl.check() lets a more specific deny win over a broader grant", () => {
  const acl = aclOf({ "secret/*": ["read", "sudo"], "secret/admin/*": ["deny"] });
  assert.equal(acl.check("secret/admin/key", "read").allowed, false);
  assert.equal(acl.check("secret/admin/key", "read", true).sudo, false);
  assert.equal(acl.check("secret/user/key", "read").allowed, true);
});

Deno.test("Acl.check() requires sudo on root-protected paths", () => {
  const acl = aclOf({
    "sys/audit/*": ["update"],
    "sys/seal": ["update", "sudo"],
    "sys/raw/*": ["sudo"],
  });
  assert.equal(acl.check("sys/audit/file", "update").allowed, true);
  assert.deepEqual(decision(acl.check("sys/audit/file", "update", true)), {
    allowed: false,
    capabilities: ["update"],
    matchedPath: "sys/audit/*",
    sudo: false,
  });
  assert.deepEqual(decision(acl.check("sys/seal", "update", true)), {
    allowed: true,
    capabilities: ["update", "sudo"],
    matchedPath: "sys/seal",
    sudo: true,
  });
  // sudo alone grants no operation.
  assert.equal(acl.check("sys/raw/x", "read", true).allowed, false);
  assert.equal(acl.check("sys/raw/x", "read", true).sudo, true);
});

Deno.test("Acl.check() denies when nothing matches", () => {
  const acl = aclOf({ "secret/*": ["read"] });
  assert.deepEqual(decision(acl.check("other/x", "read")), {
    allowed: false,
    capabilities: [],
    matchedPath: null,
    sudo: false,
  });
  assert.deepEqual(new Acl([]).check("secret/x", "read").allowed, false);
  assert.deepEqual(acl.capabilities("other/x"), ["deny"]);
});

Deno.test("Acl.check() allows everything for a root ACL", () => {
  const acl = new Acl([], { root: true });
  const r = acl.check("sys/raw/anything", "delete", true);
  assert.equal(r.allowed, true);
  assert.equal(r.sudo, true);
  assert.equal(r.matchedPath, null);
  assert.ok(r.capabilities.includes("sudo"));
  assert.ok(!r.capabilities.includes("deny"));
  assert.deepEqual(acl.capabilities("anything"), ["root"]);
});

Deno.test("Acl.check() grants nothing for a policy merely named root", () => {
  const fake: Policy = { name: "root", raw: "", rules: [] };
  const acl = new Acl([fake]);
  assert.equal(acl.check("secret/x", "read").allowed, false);
  assert.deepEqual(acl.capabilities("secret/x"), ["deny"]);
});

Deno.test("Acl.check() lets a list on 'x/' fall back to an exact rule for 'x'", () => {
  const acl = aclOf({ "secret/metadata/app": ["list", "read"] });
  assert.equal(acl.check("secret/metadata/app/", "list").allowed, true);
  assert.equal(acl.check("secret/metadata/app/", "list").matchedPath, "secret/metadata/app");
  // Only list requests get the fallback.
  assert.equal(acl.check("secret/metadata/app/", "read").allowed, false);
  assert.deepEqual(acl.capabilities("secret/metadata/app/"), ["list", "read"]);
});

Deno.test("Acl.check() refuses an operation outside the Operation type", () => {
  const acl = aclOf({ "a/*": ["sudo", "read"] });
  assert.equal(acl.check("a/b", "sudo" as Operation).allowed, false);
  assert.equal(acl.check("a/b", "constructor" as Operation).allowed, false);
});

Deno.test("Acl.check() gives the same answers once results are memoized", () => {
  const acl = aclOf({ "secret/*": ["read"], "secret/+/x": ["list"], "kv/a": ["read"] });
  for (let round = 0; round < 2; round++) {
    assert.equal(acl.check("secret/a/x", "list").allowed, true);
    assert.equal(acl.check("secret/a/x", "read").allowed, false);
    assert.equal(acl.check("secret/a/y", "read").allowed, true);
    assert.equal(acl.check("nothing", "read").allowed, false);
  }
  // Push well past the memo bound; answers must not change after eviction.
  for (let i = 0; i < 12_000; i++) {
    assert.equal(acl.check(`secret/k${i}`, "read").allowed, true);
  }
  assert.equal(acl.check("secret/a/x", "list").allowed, true);
  assert.equal(acl.check("secret/k0", "read").allowed, true);
  assert.equal(acl.check(`secret/${"z".repeat(5000)}`, "read").allowed, true);
});

Deno.test("Acl.capabilities() reports sorted capabilities, and deny for an empty block", () => {
  const acl = aclOf({
    "secret/*": ["update", "sudo", "read", "create", "delete", "list", "patch"],
    "secret/none": [],
  });
  assert.deepEqual(acl.capabilities("secret/x"), [
    "create",
    "delete",
    "list",
    "patch",
    "read",
    "sudo",
    "update",
  ]);
  assert.deepEqual(acl.capabilities("secret/none"), ["deny"]);
  assert.equal(acl.check("secret/none", "read").allowed, false);
});

Deno.test("Acl() does not modify the policies it merges", () => {
  const a = pol(block("secret/*", ["read"]));
  const b = pol(block("secret/*", ["deny"]));
  new Acl([a, b]).check("secret/x", "read");
  assert.deepEqual(a.rules, [{ pattern: "secret/*", capabilities: ["read"] }]);
  assert.deepEqual(b.rules, [{ pattern: "secret/*", capabilities: ["deny"] }]);
});

Deno.test("Acl() rejects a hand-built rule with an invalid pattern", () => {
  const bad: Policy = { name: "x", raw: "", rules: [{ pattern: "a/*/b", capabilities: ["read"] }] };
  assert.throws(() => new Acl([bad]), TypeError);
});

Deno.test("Acl.check() grants exactly the default policy's paths", () => {
  const acl = new Acl([parsePolicy("default", DEFAULT_POLICY_HCL)]);
  const allowed: [string, Operation][] = [
    ["auth/token/lookup-self", "read"],
    ["auth/token/renew-self", "update"],
    ["auth/token/revoke-self", "update"],
    ["sys/capabilities-self", "update"],
    ["sys/internal/ui/resultant-acl", "read"],
    ["sys/renew", "update"],
    ["sys/leases/renew", "update"],
    ["sys/leases/lookup", "update"],
    ["cubbyhole/", "list"],
    ["cubbyhole/x", "create"],
    ["cubbyhole/x", "delete"],
    ["sys/wrapping/wrap", "update"],
    ["sys/wrapping/lookup", "update"],
    ["sys/wrapping/unwrap", "update"],
    ["sys/tools/hash", "update"],
    ["sys/tools/hash/sha2-512", "update"],
  ];
  for (const [path, op] of allowed) {
    assert.equal(acl.check(path, op).allowed, true, `${op} ${path}`);
  }
  const denied: [string, Operation][] = [
    ["auth/token/lookup-self", "update"],
    ["secret/data/x", "read"],
    ["sys/policy/default", "update"],
    ["sys/leases/lookup/", "list"],
    ["cubbyhole/x", "patch"],
  ];
  for (const [path, op] of denied) {
    assert.equal(acl.check(path, op).allowed, false, `${op} ${path}`);
  }
});
