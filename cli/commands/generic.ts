/**
 * `read|write|list|delete PATH`: any API path, for engines without dedicated commands.
 * As in Vault, K=V data goes in the body for write and in the query string for read/delete.
 * @module
 */
import { flagBool } from "../../lib/flags.ts";
import { expectArgs } from "../args.ts";
import { type Command, type Ctx, FIELD_FLAG } from "../command.ts";
import { UsageError } from "../errors.ts";
import { parseKeyValues, toQuery } from "../kv_data.ts";
import {
  keysOf,
  printKeys,
  printNotFound,
  printSecret,
  printSuccess,
  secretFields,
} from "../output.ts";
import { encodePath } from "../paths.ts";

async function pathAndData(ctx: Ctx): Promise<[string, string, Record<string, unknown>]> {
  const [raw, ...rest] = expectArgs(ctx, 1, Infinity) as [string, ...string[]];
  const shown = raw.replace(/^\/+/, "");
  if (shown === "") throw new UsageError("Missing PATH");
  return [shown, encodePath(shown), await parseKeyValues(rest, ctx.io)];
}

const read: Command = {
  name: "read",
  args: "PATH [K=V ...]",
  synopsis: "Read data from any path",
  flags: { values: [FIELD_FLAG] },
  async run(ctx) {
    const [shown, path, data] = await pathAndData(ctx);
    const res = await ctx.api("GET", path + toQuery(data), undefined, { accept: [404] });
    if (res.status === 404) return printNotFound(ctx, res.body, shown);
    return printSecret(ctx, res.body);
  },
};

const write: Command = {
  name: "write",
  args: "PATH [K=V ...]",
  synopsis: "Write data to any path (-force to send no data)",
  flags: { values: [FIELD_FLAG], booleans: ["force", "f"] },
  async run(ctx) {
    const [shown, path, data] = await pathAndData(ctx);
    const force = flagBool(ctx.parsed, "force") || flagBool(ctx.parsed, "f");
    if (Object.keys(data).length === 0 && !force) {
      throw new UsageError("Must supply data or use -force");
    }
    const res = await ctx.api("PUT", path, data, { action: `writing data to ${shown}` });
    const fields = secretFields(res.body);
    // A 204, or a body with nothing to show, still deserves a confirmation. With -format=json a
    // 204 prints nothing on stdout (the confirmation goes to stderr), as Vault's CLI does, not
    // "null".
    const noBody = res.body === null || res.body === undefined;
    if (fields.length === 0 && ctx.field === undefined && (ctx.format === "table" || noBody)) {
      return printSuccess(ctx, `Data written to: ${shown}`);
    }
    return printSecret(ctx, res.body, fields);
  },
};

const list: Command = {
  name: "list",
  args: "PATH",
  synopsis: "List the keys under any path",
  async run(ctx) {
    const [raw] = expectArgs(ctx, 1) as [string];
    const shown = raw.replace(/^\/+/, "").replace(/\/*$/, "/");
    const res = await ctx.api("LIST", encodePath(shown), undefined, { accept: [404] });
    const keys = keysOf(res.body);
    if (res.status === 404 || keys.length === 0) return printNotFound(ctx, res.body, shown);
    return printKeys(ctx, keys);
  },
};

const del: Command = {
  name: "delete",
  args: "PATH [K=V ...]",
  synopsis: "Delete data at any path",
  async run(ctx) {
    const [shown, path, data] = await pathAndData(ctx);
    await ctx.api("DELETE", path + toQuery(data));
    return printSuccess(ctx, `Data deleted (if it existed) at: ${shown}`);
  },
};

export const genericCommands: Command[] = [read, write, list, del];
