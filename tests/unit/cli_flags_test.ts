import assert from "node:assert/strict";
import {
  flagBool,
  FlagError,
  flagInt,
  flagString,
  flagStrings,
  parseFlags,
} from "../../lib/flags.ts";

const SPEC = {
  values: ["format", "policy", "field", "key-shares"],
  booleans: ["orphan", "reset"],
};

const CASES: {
  name: string;
  argv: string[];
  flags: Record<string, string | true>;
  args: string[];
}[] = [
  { name: "single-dash with =", argv: ["-format=json"], flags: { format: "json" }, args: [] },
  { name: "double-dash with =", argv: ["--format=json"], flags: { format: "json" }, args: [] },
  {
    name: "value as next arg",
    argv: ["-format", "json", "p"],
    flags: { format: "json" },
    args: ["p"],
  },
  { name: "double-dash, next arg", argv: ["--field", "pw"], flags: { field: "pw" }, args: [] },
  { name: "bare boolean", argv: ["-orphan", "x"], flags: { orphan: true }, args: ["x"] },
  { name: "boolean with =false", argv: ["-reset=false"], flags: { reset: "false" }, args: [] },
  {
    name: "boolean does not take the next arg",
    argv: ["-reset", "key"],
    flags: { reset: true },
    args: ["key"],
  },
  { name: "empty value", argv: ["-field="], flags: { field: "" }, args: [] },
  { name: "value containing =", argv: ["-field=a=b"], flags: { field: "a=b" }, args: [] },
  {
    name: "value that looks like a flag",
    argv: ["-field", "-x"],
    flags: { field: "-x" },
    args: [],
  },
  {
    name: "flags after positionals",
    argv: ["secret/a", "k=v", "-format=json"],
    flags: { format: "json" },
    args: ["secret/a", "k=v"],
  },
  {
    name: "-- ends flags",
    argv: ["-orphan", "--", "-format=json", "-"],
    flags: { orphan: true },
    args: ["-format=json", "-"],
  },
  { name: "lone dash is positional", argv: ["-"], flags: {}, args: ["-"] },
  {
    name: "last repeat wins",
    argv: ["-policy=a", "-policy", "b"],
    flags: { policy: "b" },
    args: [],
  },
  { name: "nothing", argv: [], flags: {}, args: [] },
];

for (const c of CASES) {
  Deno.test(`parseFlags() handles ${c.name}`, () => {
    const p = parseFlags(c.argv, SPEC);
    assert.deepEqual(Object.fromEntries(p.flags), c.flags);
    assert.deepEqual(p.args, c.args);
  });
}

const ERRORS: { argv: string[]; message: RegExp }[] = [
  { argv: ["-nope"], message: /flag provided but not defined: -nope/ },
  { argv: ["--nope=1"], message: /flag provided but not defined: -nope/ },
  { argv: ["-format"], message: /flag needs an argument: -format/ },
  { argv: ["-orphan=maybe"], message: /invalid boolean value "maybe" for -orphan/ },
  { argv: ["---format=json"], message: /bad flag syntax/ },
  { argv: ["-=x"], message: /bad flag syntax/ },
];

for (const e of ERRORS) {
  Deno.test(`parseFlags() rejects ${e.argv.join(" ")}`, () => {
    assert.throws(() => parseFlags(e.argv, SPEC), (err: unknown) => {
      assert.ok(err instanceof FlagError);
      assert.match(err.message, e.message);
      return true;
    });
  });
}

Deno.test("flagStrings() returns every value of a repeated flag in order", () => {
  const p = parseFlags(["-policy=a", "-orphan", "-policy", "b,c"], SPEC);
  assert.deepEqual(flagStrings(p, "policy"), ["a", "b,c"]);
  assert.deepEqual(flagStrings(p, "field"), []);
});

Deno.test("flagBool() reads bare, true, false and absent", () => {
  assert.equal(flagBool(parseFlags(["-orphan"], SPEC), "orphan"), true);
  assert.equal(flagBool(parseFlags(["-orphan=true"], SPEC), "orphan"), true);
  assert.equal(flagBool(parseFlags(["-orphan=0"], SPEC), "orphan"), false);
  assert.equal(flagBool(parseFlags(["-orphan=FALSE"], SPEC), "orphan"), false);
  assert.equal(flagBool(parseFlags([], SPEC), "orphan"), undefined);
});

Deno.test("flagString() ignores bare booleans and flagInt() validates", () => {
  const p = parseFlags(["-key-shares=5", "-orphan"], SPEC);
  assert.equal(flagString(p, "orphan"), undefined);
  assert.equal(flagInt(p, "key-shares"), 5);
  assert.equal(flagInt(p, "field"), undefined);
  assert.throws(() => flagInt(parseFlags(["-key-shares=five"], SPEC), "key-shares"), FlagError);
  assert.throws(() => flagInt(parseFlags(["-key-shares=1.5"], SPEC), "key-shares"), FlagError);
});
