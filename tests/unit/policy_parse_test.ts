import assert from "node:assert/strict";
import { BadRequest } from "../../lib/errors.ts";
import { parsePolicy } from "../../core/policy/parse.ts";
import { DEFAULT_POLICY_HCL } from "../../core/policy/defaults.ts";
import type { PathRule } from "../../core/policy/types.ts";

function b64(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

const FULL_HCL = `
# a comment
// another comment
/* a block
   comment */
path "secret/data/app/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list"]
  allowed_parameters  = { "foo" = [] , "Bar" = ["zip","zap"] }
  denied_parameters   = { "secret" = [] }
  required_parameters = ["foo"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = "90m"
}
path "secret/+/teamb"  { capabilities = ["read"] }
path "sys/mounts"      { policy = "read" }
`;

const FULL_RULES: PathRule[] = [
  {
    pattern: "secret/data/app/*",
    capabilities: ["create", "read", "update", "patch", "delete", "list"],
    allowedParameters: { foo: [], bar: ["zip", "zap"] },
    deniedParameters: { secret: [] },
    requiredParameters: ["foo"],
    minWrappingTtl: 60,
    maxWrappingTtl: 5400,
  },
  { pattern: "secret/+/teamb", capabilities: ["read"] },
  { pattern: "sys/mounts", capabilities: ["read", "list"] },
];

const ACCEPTED: { name: string; text: string; rules: PathRule[] }[] = [
  {
    name: "HCL block with capabilities",
    text: 'path "secret/*" { capabilities = ["read", "list"] }',
    rules: [{ pattern: "secret/*", capabilities: ["read", "list"] }],
  },
  { name: "full HCL with comments and parameters", text: FULL_HCL, rules: FULL_RULES },
  {
    name: "legacy policy = read",
    text: 'path "a" { policy = "read" }',
    rules: [{ pattern: "a", capabilities: ["read", "list"] }],
  },
  {
    name: "legacy policy = write",
    text: 'path "a" { policy = "write" }',
    rules: [{ pattern: "a", capabilities: ["create", "read", "update", "delete", "list"] }],
  },
  {
    name: "legacy policy = sudo",
    text: 'path "*" {policy = "sudo"}',
    rules: [{
      pattern: "*",
      capabilities: ["create", "read", "update", "delete", "list", "sudo"],
    }],
  },
  {
    name: "legacy policy = deny",
    text: 'path "a" { policy = "deny" }',
    rules: [{ pattern: "a", capabilities: ["deny"] }],
  },
  {
    name: "legacy policy combined with capabilities",
    text: 'path "a" {\n policy = "read"\n capabilities = ["patch"]\n}',
    rules: [{ pattern: "a", capabilities: ["read", "patch", "list"] }],
  },
  {
    name: "deny among other capabilities keeps only deny",
    text: 'path "a" { capabilities = ["read", "deny", "sudo"] }',
    rules: [{ pattern: "a", capabilities: ["deny"] }],
  },
  {
    name: "JSON structure",
    text: '{"path":{"secret/*":{"capabilities":["read"]},"sys/x":{"policy":"write"}}}',
    rules: [
      { pattern: "secret/*", capabilities: ["read"] },
      { pattern: "sys/x", capabilities: ["create", "read", "update", "delete", "list"] },
    ],
  },
  {
    name: "JSON with parameters and TTL in seconds",
    text: JSON.stringify({
      path: {
        "kv/*": {
          capabilities: ["update"],
          allowed_parameters: { "*": [] },
          required_parameters: ["x"],
          max_wrapping_ttl: 300,
        },
      },
    }),
    rules: [{
      pattern: "kv/*",
      capabilities: ["update"],
      allowedParameters: { "*": [] },
      requiredParameters: ["x"],
      maxWrappingTtl: 300,
    }],
  },
  {
    name: "base64 of HCL",
    text: b64('path "secret/*" { capabilities = ["read"] }'),
    rules: [{ pattern: "secret/*", capabilities: ["read"] }],
  },
  {
    name: "base64 of JSON",
    text: b64('{"path":{"a/+/b":{"capabilities":["list"]}}}'),
    rules: [{ pattern: "a/+/b", capabilities: ["list"] }],
  },
  {
    name: "duplicate patterns in one policy merge (union)",
    text: 'path "a/*" { capabilities = ["read"] }\npath "a/*" { capabilities = ["list", "read"] }',
    rules: [{ pattern: "a/*", capabilities: ["read", "list"] }],
  },
  {
    name: "duplicate patterns with deny merge to deny, dropping parameters",
    text: 'path "a" {\n capabilities = ["read"]\n allowed_parameters = { "x" = [] }\n}\n' +
      'path "a" { capabilities = ["deny"] }',
    rules: [{ pattern: "a", capabilities: ["deny"] }],
  },
  {
    name: "duplicate patterns merge parameters as Vault does",
    text: 'path "a" {\n allowed_parameters = { "x" = ["1"], "z" = ["3"] }\n' +
      ' required_parameters = ["x"]\n max_wrapping_ttl = "1h"\n}\n' +
      'path "a" {\n allowed_parameters = { "x" = ["2"], "y" = [], "z" = [] }\n' +
      ' required_parameters = ["y", "x"]\n max_wrapping_ttl = "5m"\n}',
    rules: [{
      pattern: "a",
      capabilities: [],
      allowedParameters: { x: ["2", "1"], y: [], z: [] },
      requiredParameters: ["x", "y"],
      maxWrappingTtl: 300,
    }],
  },
  {
    name: "leading slash is stripped and merges with the plain pattern",
    text: 'path "/a" { capabilities = ["read"] }\npath "a" { capabilities = ["update"] }',
    rules: [{ pattern: "a", capabilities: ["read", "update"] }],
  },
  {
    name: "block with no capabilities grants nothing",
    text: 'path "a/*" {}',
    rules: [{ pattern: "a/*", capabilities: [] }],
  },
  {
    name: "+ combined with a trailing *",
    text: 'path "secret/+/app-*" { capabilities = ["read"] }',
    rules: [{ pattern: "secret/+/app-*", capabilities: ["read"] }],
  },
  {
    name: "comment key, top-level name, trailing commas, string escapes",
    text: 'name = "x"\npath "a\\"b" {\n  comment = "why"\n  capabilities = ["read",],\n}\n',
    rules: [{ pattern: 'a"b', capabilities: ["read"] }],
  },
];

for (const c of ACCEPTED) {
  Deno.test(`parsePolicy() accepts ${c.name}`, () => {
    const p = parsePolicy("p", c.text);
    assert.deepEqual(p.rules, c.rules);
  });
}

Deno.test("parsePolicy() lower-cases the name and keeps the raw text", () => {
  const text = 'path "a" { capabilities = ["read"] }';
  const p = parsePolicy("My.Policy@team-1", text);
  assert.equal(p.name, "my.policy@team-1");
  assert.equal(p.raw, text);
});

Deno.test("parsePolicy() stores the decoded text as raw for base64 input", () => {
  const text = 'path "a" { capabilities = ["read"] }';
  assert.equal(parsePolicy("p", b64(text)).raw, text);
});

Deno.test("parsePolicy() parses the built-in default policy", () => {
  const p = parsePolicy("default", DEFAULT_POLICY_HCL);
  const byPattern = new Map(p.rules.map((r) => [r.pattern, r.capabilities]));
  assert.deepEqual(byPattern.get("auth/token/lookup-self"), ["read"]);
  assert.deepEqual(byPattern.get("auth/token/renew-self"), ["update"]);
  assert.deepEqual(byPattern.get("auth/token/revoke-self"), ["update"]);
  assert.deepEqual(byPattern.get("sys/capabilities-self"), ["update"]);
  assert.deepEqual(byPattern.get("sys/internal/ui/resultant-acl"), ["read"]);
  assert.deepEqual(byPattern.get("sys/renew"), ["update"]);
  assert.deepEqual(byPattern.get("sys/leases/renew"), ["update"]);
  assert.deepEqual(byPattern.get("sys/leases/lookup"), ["update"]);
  assert.deepEqual(byPattern.get("cubbyhole/*"), ["create", "read", "update", "delete", "list"]);
  assert.deepEqual(byPattern.get("sys/wrapping/wrap"), ["update"]);
  assert.deepEqual(byPattern.get("sys/wrapping/lookup"), ["update"]);
  assert.deepEqual(byPattern.get("sys/wrapping/unwrap"), ["update"]);
  assert.deepEqual(byPattern.get("sys/tools/hash"), ["update"]);
  assert.deepEqual(byPattern.get("sys/tools/hash/*"), ["update"]);
  assert.equal(p.rules.length, 14);
});

Deno.test("parsePolicy() keeps a parameter named __proto__ as data", () => {
  const p = parsePolicy("p", 'path "a" { allowed_parameters = { "__proto__" = ["x"] } }');
  const allowed = p.rules[0]!.allowedParameters!;
  assert.equal(Object.getPrototypeOf(allowed), Object.prototype);
  assert.ok(Object.hasOwn(allowed, "__proto__"));
  assert.deepEqual(Object.getOwnPropertyDescriptor(allowed, "__proto__")?.value, ["x"]);
});

/** Each case: the text, and a fragment the BadRequest message must contain. */
const REJECTED: { name: string; text: string; message: string | RegExp }[] = [
  { name: "an empty policy", text: "", message: "policy is empty" },
  { name: "a whitespace-only policy", text: "  \n\t", message: "policy is empty" },
  { name: "a comment-only policy", text: "# nothing\n", message: "policy has no path rules" },
  { name: "an empty JSON object", text: "{}", message: "policy has no path rules" },
  {
    name: "an unknown capability",
    text: 'path "secret/*" {\n  capabilities = ["reed"]\n}',
    message: 'path "secret/*" (line 1), line 2: invalid capability "reed"',
  },
  {
    name: "a capability Vault has but this server does not (scan)",
    text: 'path "a" { capabilities = ["scan"] }',
    message: 'invalid capability "scan"',
  },
  {
    name: "an unknown key in a path block",
    text: 'path "a" {\n capabilities = ["read"]\n colour = "red"\n}',
    message: 'path "a" (line 1), line 3: invalid key "colour"',
  },
  {
    name: "a conditions block with an unknown condition",
    text: 'path "a" {\n capabilities = ["read"]\n conditions {\n  x = "y"\n }\n}',
    message: 'path "a" (line 1), line 3: unknown condition "x"',
  },
  {
    name: "an unknown key in a JSON path block",
    text: '{"path":{"a":{"capabilities":["read"],"mfa_methods":["m"]}}}',
    message: 'path "a": invalid key "mfa_methods"',
  },
  {
    name: "an unknown top-level key",
    text: 'paths "a" { capabilities = ["read"] }',
    message: 'line 1: invalid key "paths"',
  },
  {
    name: "* in the middle of a pattern",
    text: 'path "secret/*/foo" { capabilities = ["read"] }',
    message: 'path "secret/*/foo" (line 1): invalid use of "*"',
  },
  {
    name: "* at the start of a longer pattern",
    text: 'path "*foo" { capabilities = ["read"] }',
    message: 'invalid use of "*"',
  },
  {
    name: "+* in a pattern",
    text: 'path "secret/+*" { capabilities = ["read"] }',
    message: '"+*" is forbidden',
  },
  {
    name: "an empty pattern",
    text: 'path "" { capabilities = ["read"] }',
    message: "path pattern is empty",
  },
  {
    name: "an invalid legacy policy",
    text: 'path "a" { policy = "admin" }',
    message: 'invalid policy "admin"',
  },
  {
    name: "capabilities that are not a list",
    text: 'path "a" { capabilities = "read" }',
    message: '"capabilities" must be a list of strings',
  },
  {
    name: "a duplicate key in one block",
    text: 'path "a" {\n capabilities = ["read"]\n capabilities = ["list"]\n}',
    message: 'line 3: duplicate key "capabilities"',
  },
  {
    name: "a bad wrapping TTL",
    text: 'path "a" { max_wrapping_ttl = "soon" }',
    message: 'invalid max_wrapping_ttl "soon"',
  },
  {
    name: "max_wrapping_ttl below min_wrapping_ttl",
    text: 'path "a" {\n min_wrapping_ttl = "1h"\n max_wrapping_ttl = "1m"\n}',
    message: "max_wrapping_ttl cannot be less than min_wrapping_ttl",
  },
  {
    name: "a missing closing brace",
    text: 'path "a" {\n capabilities = ["read"]\n',
    message: 'line 3, column 1: expected "}" to close the block opened on line 1',
  },
  {
    name: "a missing comma in a list",
    text: 'path "a" {\n capabilities = ["read" "list"]\n}',
    message: 'line 2, column 25: expected "," or "]" in list, found string "list"',
  },
  {
    name: "an unquoted value",
    text: 'path "a" { capabilities = [read] }',
    message: 'line 1, column 28: unexpected "read": strings must be quoted',
  },
  {
    name: "an unterminated string",
    text: 'path "a { capabilities = ["read"] }',
    message: "line 1, column 32: unterminated string",
  },
  {
    name: "an unterminated block comment",
    text: 'path "a" { capabilities = ["read"] }\n/* open',
    message: "line 2, column 1: unterminated /* comment",
  },
  { name: "invalid JSON", text: '{"path": {', message: "invalid JSON" },
  {
    name: "base64 of an invalid policy",
    text: b64('path "a" { capabilities = ["nope"] }'),
    message: 'invalid capability "nope"',
  },
  {
    name: "deeply nested input",
    text: `path "a" { allowed_parameters = { "x" = ${"[".repeat(100)}${"]".repeat(100)} } }`,
    message: "nesting is too deep",
  },
];

for (const c of REJECTED) {
  Deno.test(`parsePolicy() rejects ${c.name}`, () => {
    assert.throws(() => parsePolicy("p", c.text), (err: unknown) => {
      assert.ok(err instanceof BadRequest, `expected BadRequest, got ${err}`);
      assert.equal(err.status, 400);
      assert.ok(
        err.message.includes(c.message as string),
        `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(c.message)}`,
      );
      return true;
    });
  });
}

Deno.test("parsePolicy() rejects writing the root policy in any case", () => {
  for (const name of ["root", "ROOT", "Root"]) {
    assert.throws(
      () => parsePolicy(name, 'path "a" { capabilities = ["read"] }'),
      (err: unknown) => err instanceof BadRequest && err.message === "cannot update root policy",
    );
  }
});

Deno.test("parsePolicy() rejects invalid policy names", () => {
  for (const name of ["", "a b", "a/b", "x".repeat(129), "é"]) {
    assert.throws(
      () => parsePolicy(name, 'path "a" { capabilities = ["read"] }'),
      (err: unknown) => err instanceof BadRequest && err.message.startsWith("invalid policy name"),
      `name ${JSON.stringify(name)}`,
    );
  }
  assert.equal(parsePolicy("x".repeat(128), 'path "a" {}').name, "x".repeat(128));
});

Deno.test("parsePolicy() refuses a JSON policy with a key twice in one object (JSON.parse would keep the last)", () => {
  const cases = [
    // Two blocks for one path: the deny would vanish and the read stand.
    `{"path":{"secret/data/*":{"capabilities":["deny"]},"secret/data/*":{"capabilities":["read"]}}}`,
    `{"path":{"a/*":{"capabilities":["deny"],"capabilities":["read"]}}}`,
    `{"path":{"a/*":{"capabilities":["deny"]}},"path":{"b/*":{"capabilities":["read"]}}}`,
    // The same key spelled with an escape is the same key.
    `{"path":{"a":{"capabilities":["deny"]},"\\u0061":{"capabilities":["read"]}}}`,
  ];
  for (const text of cases) {
    assert.throws(() => parsePolicy("p", text), /duplicate key/, text);
  }
  // Equal keys in different objects, and strings that look like keys, are fine.
  const ok = parsePolicy(
    "p",
    `{"path":{"a/*":{"capabilities":["read"]},"b/*":{"capabilities":["read"],"allowed_parameters":{"capabilities":["path"]}}}}`,
  );
  assert.equal(ok.rules.length, 2);
});
