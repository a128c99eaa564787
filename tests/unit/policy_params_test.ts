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
  // strutil.GlobbedStringsMatch: a leading and trailing "*" means "contains".
  [
    "denied contains glob",
    `path "a" { capabilities=["update"] denied_parameters = { "display_name" = ["*admin*"] } }`,
    { display_name: "my-admin-x" },
    /denied/,
  ],
  [
    "denied contains glob other passes",
    `path "a" { capabilities=["update"] denied_parameters = { "display_name" = ["*admin*"] } }`,
    { display_name: "my-user-x" },
    null,
  ],
  [
    "allowed contains glob",
    `path "a" { capabilities=["update"] allowed_parameters = { "name" = ["*x*"] } }`,
    { name: "axb" },
    null,
  ],
  [
    "allowed contains glob refuses",
    `path "a" { capabilities=["update"] allowed_parameters = { "name" = ["*x*"] } }`,
    { name: "ab" },
    /not allowed/,
  ],
  [
    "allowed prefix glob is not contains",
    `path "a" { capabilities=["update"] allowed_parameters = { "name" = ["x*"] } }`,
    { name: "axb" },
    /not allowed/,
  ],
  // acl.go: "*" in denied_parameters refuses any request with data, whatever else is listed.
  [
    "denied star beside a listed key",
    `path "a" { capabilities=["update"] denied_parameters = { "*" = [], "ttl" = ["1h"] } }`,
    { ttl: "2h" },
    /denied/,
  ],
  [
    "denied star beside a listed key, other key",
    `path "a" { capabilities=["update"] denied_parameters = { "*" = [], "ttl" = ["1h"] } }`,
    { other: "x" },
    /denied/,
  ],
  [
    "denied star with values still denies all",
    `path "a" { capabilities=["update"] denied_parameters = { "*" = ["nope"] } }`,
    { x: "fine" },
    /denied/,
  ],
  [
    "denied star, no data",
    `path "a" { capabilities=["update"] denied_parameters = { "*" = [] } }`,
    {},
    null,
  ],
  // acl.go: with "*" allowed, an unlisted key is let in; the value list of "*" limits nothing.
  [
    "allowed star with values lets any unlisted key in",
    `path "a" { capabilities=["update"] allowed_parameters = { "*" = ["dev"] } }`,
    { env: "prod" },
    null,
  ],
  [
    "allowed star beside a listed key still limits that key",
    `path "a" { capabilities=["update"] allowed_parameters = { "*" = [], "env" = ["dev"] } }`,
    { env: "prod", other: 1 },
    /value of parameter "env" is not allowed/,
  ],
  [
    "allowed star beside a listed key lets others in",
    `path "a" { capabilities=["update"] allowed_parameters = { "*" = ["z"], "env" = ["dev"] } }`,
    { env: "dev", other: "y" },
    null,
  ],
  // Vault's acl.go lowercases the request's keys before looking them up in the rules.
  [
    "denied key sent in another case",
    `path "a" { capabilities=["update"] denied_parameters = { "TTL" = [] } }`,
    { Ttl: "1h" },
    /denied/,
  ],
  [
    "allowed key sent in another case",
    `path "a" { capabilities=["update"] allowed_parameters = { "Name" = ["x"] } }`,
    { NAME: "x" },
    null,
  ],
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
