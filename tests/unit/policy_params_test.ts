import assert from "node:assert/strict";
import { parameterViolation } from "../../core/policy/params.ts";
import { parsePolicy } from "../../core/policy/parse.ts";

function rule(hcl: string) {
  return parsePolicy("p", hcl).rules[0]!;
}

const CASES: [string, string, Record<string, unknown>, RegExp | null][] = [
  ["denied key", `path "a" { capabilities=["update"] denied_parameters = { "admin" = [] } }`, {
    admin: true,
  }, /denied/],
  [
    "denied other key passes",
    `path "a" { capabilities=["update"] denied_parameters = { "admin" = [] } }`,
    { user: "x" },
    null,
  ],
  [
    "denied value",
    `path "a" { capabilities=["update"] denied_parameters = { "role" = ["root"] } }`,
    { role: "root" },
    /denied/,
  ],
  [
    "denied value other passes",
    `path "a" { capabilities=["update"] denied_parameters = { "role" = ["root"] } }`,
    { role: "dev" },
    null,
  ],
  [
    "denied star",
    `path "a" { capabilities=["update"] denied_parameters = { "*" = [] } }`,
    { x: 1 },
    /denied/,
  ],
  [
    "allowed list only",
    `path "a" { capabilities=["update"] allowed_parameters = { "name" = [] } }`,
    { other: "x" },
    /not allowed/,
  ],
  [
    "allowed key any value",
    `path "a" { capabilities=["update"] allowed_parameters = { "name" = [] } }`,
    { name: "x" },
    null,
  ],
  [
    "allowed values",
    `path "a" { capabilities=["update"] allowed_parameters = { "env" = ["dev", "test"] } }`,
    { env: "prod" },
    /not allowed/,
  ],
  [
    "allowed values ok",
    `path "a" { capabilities=["update"] allowed_parameters = { "env" = ["dev", "test"] } }`,
    { env: "test" },
    null,
  ],
  [
    "allowed glob value",
    `path "a" { capabilities=["update"] allowed_parameters = { "host" = ["*.example.com"] } }`,
    { host: "a.example.com" },
    null,
  ],
  ["allowed star", `path "a" { capabilities=["update"] allowed_parameters = { "*" = [] } }`, {
    anything: 1,
  }, null],
  ["required missing", `path "a" { capabilities=["update"] required_parameters = ["reason"] }`, {
    x: 1,
  }, /required/],
  ["required present", `path "a" { capabilities=["update"] required_parameters = ["reason"] }`, {
    reason: "ticket-1",
  }, null],
];

for (const [name, hcl, data, want] of CASES) {
  Deno.test(`parameterViolation() ${name}`, () => {
    const got = parameterViolation(rule(hcl), data);
    if (want === null) assert.equal(got, null);
    else assert.match(got ?? "", want);
  });
}
