/**
 * `token create|lookup|renew|revoke`, over `auth/token/*`. Without a TOKEN argument the
 * `-self` endpoints act on the caller's own token, as in Vault.
 * @module
 */
import { flagBool, flagInt, flagString, flagStrings } from "../../lib/flags.ts";
import { expectArgs } from "../args.ts";
import { type Command, FIELD_FLAG } from "../command.ts";
import { UsageError } from "../errors.ts";
import { flagPairs } from "../kv_data.ts";
import { printSecret, printSuccess } from "../output.ts";
import { encodePath } from "../paths.ts";

const create: Command = {
  name: "token create",
  synopsis: "Create a token (child of the caller unless -orphan)",
  flags: {
    values: [
      FIELD_FLAG,
      "policy",
      "ttl",
      "explicit-max-ttl",
      "period",
      "num-uses",
      "display-name",
      "metadata",
      "type",
      "role",
      "id",
    ],
    booleans: ["orphan", "renewable", "no-default-policy"],
  },
  async run(ctx) {
    expectArgs(ctx, 0);
    const p = ctx.parsed;
    const body: Record<string, unknown> = {};
    const policies = flagStrings(p, "policy").flatMap((s) => s.split(","))
      .map((s) => s.trim()).filter((s) => s !== "");
    if (policies.length) body.policies = policies;
    const strings: [string, string][] = [
      ["ttl", "ttl"],
      ["explicit-max-ttl", "explicit_max_ttl"],
      ["period", "period"],
      ["display-name", "display_name"],
      ["type", "type"],
      ["id", "id"],
    ];
    for (const [flag, key] of strings) {
      const v = flagString(p, flag);
      if (v !== undefined) body[key] = v;
    }
    const numUses = flagInt(p, "num-uses");
    if (numUses !== undefined) body.num_uses = numUses;
    const renewable = flagBool(p, "renewable");
    if (renewable !== undefined) body.renewable = renewable;
    if (flagBool(p, "no-default-policy")) body.no_default_policy = true;
    const meta = flagPairs(p, "metadata");
    if (meta) body.meta = meta;

    const role = flagString(p, "role");
    // create-orphan needs no sudo, unlike create with no_parent; Vault's CLI uses it too.
    const path = role
      ? `auth/token/create/${encodePath(role)}`
      : flagBool(p, "orphan")
      ? "auth/token/create-orphan"
      : "auth/token/create";
    const res = await ctx.api("POST", path, body, { action: "creating token" });
    return printSecret(ctx, res.body);
  },
};

const lookup: Command = {
  name: "token lookup",
  args: "[TOKEN]",
  synopsis: "Show a token's properties (the caller's own without TOKEN)",
  flags: { values: [FIELD_FLAG], booleans: ["accessor"] },
  async run(ctx) {
    const arg = expectArgs(ctx, 0, 1)[0];
    const action = { action: "looking up token" };
    let res;
    if (flagBool(ctx.parsed, "accessor")) {
      if (!arg) throw new UsageError("An accessor is required with -accessor");
      res = await ctx.api("POST", "auth/token/lookup-accessor", { accessor: arg }, action);
    } else if (arg) {
      res = await ctx.api("POST", "auth/token/lookup", { token: arg }, action);
    } else {
      res = await ctx.api("GET", "auth/token/lookup-self", undefined, action);
    }
    return printSecret(ctx, res.body);
  },
};

const renew: Command = {
  name: "token renew",
  args: "[TOKEN]",
  synopsis: "Extend a token's lease (the caller's own without TOKEN)",
  flags: { values: [FIELD_FLAG, "increment"], booleans: ["accessor"] },
  async run(ctx) {
    const arg = expectArgs(ctx, 0, 1)[0];
    const body: Record<string, unknown> = {};
    const increment = flagString(ctx.parsed, "increment");
    if (increment !== undefined) body.increment = increment;
    const action = { action: "renewing token" };
    let res;
    if (flagBool(ctx.parsed, "accessor")) {
      if (!arg) throw new UsageError("An accessor is required with -accessor");
      res = await ctx.api("POST", "auth/token/renew-accessor", { ...body, accessor: arg }, action);
    } else if (arg) {
      res = await ctx.api("POST", "auth/token/renew", { ...body, token: arg }, action);
    } else {
      res = await ctx.api("POST", "auth/token/renew-self", body, action);
    }
    return printSecret(ctx, res.body);
  },
};

const revoke: Command = {
  name: "token revoke",
  args: "[TOKEN]",
  synopsis: "Revoke a token and its children (-self, -accessor, -mode=orphan)",
  flags: { values: ["mode"], booleans: ["accessor", "self"] },
  async run(ctx) {
    const arg = expectArgs(ctx, 0, 1)[0];
    const action = { action: "revoking token" };
    const mode = flagString(ctx.parsed, "mode");
    if (mode !== undefined && mode !== "orphan") {
      throw new UsageError(`Invalid -mode "${mode}": only "orphan" is supported`);
    }
    if (flagBool(ctx.parsed, "self")) {
      if (arg) throw new UsageError("-self takes no TOKEN argument");
      await ctx.api("POST", "auth/token/revoke-self", undefined, action);
    } else if (!arg) {
      throw new UsageError("A TOKEN (or -self) is required");
    } else if (flagBool(ctx.parsed, "accessor")) {
      if (mode) throw new UsageError("-mode cannot be used with -accessor");
      await ctx.api("POST", "auth/token/revoke-accessor", { accessor: arg }, action);
    } else {
      const path = mode === "orphan" ? "auth/token/revoke-orphan" : "auth/token/revoke";
      await ctx.api("POST", path, { token: arg }, action);
    }
    return printSuccess(ctx, "Revoked token (if it existed)");
  },
};

export const tokenCommands: Command[] = [create, lookup, renew, revoke];
