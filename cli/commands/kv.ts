/**
 * `kv get|put|patch|delete|undelete|destroy|list`: KV v2 over `data/`, `delete/`, `undelete/`,
 * `destroy/` and `metadata/`; get/put/delete/list also work on a KV v1 mount.
 * @module
 */
import { flagInt } from "../../lib/flags.ts";
import { expectArgs } from "../args.ts";
import { type Command, type Ctx, FIELD_FLAG } from "../command.ts";
import { UsageError } from "../errors.ts";
import { json, section, table } from "../format.ts";
import { parseKeyValues } from "../kv_data.ts";
import {
  asObj,
  dataOf,
  keysOf,
  mapFields,
  printField,
  printKeys,
  printNotFound,
  printSecret,
  printSuccess,
  printWarnings,
  rowsOf,
} from "../output.ts";
import {
  casOption,
  displayPath,
  type KvTarget,
  requirePath,
  requireV2,
  resolveKv,
  v2Path,
  versionsFlag,
} from "./kv_target.ts";
import { encodePath } from "../paths.ts";

const MOUNT = "mount";

async function target(ctx: Ctx, minArgs: number, maxArgs = minArgs): Promise<KvTarget> {
  const args = expectArgs(ctx, minArgs, maxArgs);
  return await resolveKv(ctx, args[0] ?? "");
}

const get: Command = {
  name: "kv get",
  args: "PATH",
  synopsis: "Read a secret (latest version, or -version=N)",
  flags: { values: [MOUNT, FIELD_FLAG, "version"] },
  async run(ctx) {
    const t = await target(ctx, 1);
    requirePath(t);
    if (t.version === 1) {
      const res = await ctx.api("GET", encodePath(displayPath(t)), undefined, { accept: [404] });
      if (res.status === 404) return printNotFound(ctx, res.body, displayPath(t));
      return printSecret(ctx, res.body);
    }
    const version = flagInt(ctx.parsed, "version");
    const query = version === undefined ? "" : `?version=${version}`;
    const shown = displayPath(t, "data");
    const res = await ctx.api("GET", v2Path(t, "data") + query, undefined, { accept: [404] });
    const d = dataOf(res.body);
    const code = res.status === 404 ? 2 : 0;
    // A deleted or destroyed version is a 404 that still carries its metadata.
    if (res.status === 404 && d.metadata === undefined) return printNotFound(ctx, res.body, shown);
    printWarnings(ctx, res.body);
    const data = d.data && typeof d.data === "object" ? asObj(d.data) : undefined;
    if (ctx.field !== undefined) {
      if (!data) return printNotFound(ctx, null, shown);
      return printField(ctx, mapFields(data), ctx.field);
    }
    if (ctx.format === "json") {
      ctx.io.out(json(res.body));
      return code;
    }
    const parts = [
      section("Secret Path", shown),
      section("Metadata", table(rowsOf(mapFields(asObj(d.metadata))))),
    ];
    if (data) parts.push(section("Data", table(rowsOf(mapFields(data)))));
    ctx.io.out(parts.join("\n\n"));
    return code;
  },
};

/** Shared by put and patch: both write a new version and print its metadata. */
function writer(name: "put" | "patch"): Command {
  const method = name === "put" ? "POST" : "PATCH";
  return {
    name: `kv ${name}`,
    args: "PATH K=V ...",
    synopsis: name === "put"
      ? "Write a new version of a secret (K=@FILE reads a file, K=- stdin)"
      : "Write a new version changing only the given keys",
    flags: { values: [MOUNT, FIELD_FLAG, "cas"] },
    async run(ctx) {
      const t = await target(ctx, 1, Infinity);
      requirePath(t);
      const data = await parseKeyValues(ctx.args.slice(1), ctx.io);
      if (Object.keys(data).length === 0) throw new UsageError("Must supply data");
      if (t.version === 1) {
        if (name === "patch") requireV2(t, "Patch");
        await ctx.api("POST", encodePath(displayPath(t)), data);
        return printSuccess(ctx, `Data written to: ${displayPath(t)}`);
      }
      const cas = casOption(ctx);
      const body = cas ? { data, options: cas } : { data };
      const shown = displayPath(t, "data");
      const res = await ctx.api(method, v2Path(t, "data"), body, {
        action: `writing data to ${shown}`,
        // Patching a secret that does not exist (or whose latest version is deleted): Vault's
        // CLI says there is no value, with exit code 2, as `kv get` does.
        accept: name === "patch" ? [404] : [],
      });
      if (res.status === 404) return printNotFound(ctx, res.body, shown);
      const fields = mapFields(dataOf(res.body));
      if (ctx.field !== undefined || ctx.format === "json") {
        return printSecret(ctx, res.body, fields);
      }
      printWarnings(ctx, res.body);
      ctx.io.out(
        `${section("Secret Path", shown)}\n\n${section("Metadata", table(rowsOf(fields)))}`,
      );
      return 0;
    },
  };
}

const del: Command = {
  name: "kv delete",
  args: "PATH",
  synopsis: "Soft-delete the latest version, or -versions=1,2 (undelete restores)",
  flags: { values: [MOUNT, "versions"] },
  async run(ctx) {
    const t = await target(ctx, 1);
    requirePath(t);
    if (t.version === 1) {
      await ctx.api("DELETE", encodePath(displayPath(t)));
      return printSuccess(ctx, `Data deleted (if it existed) at: ${displayPath(t)}`);
    }
    const versions = versionsFlag(ctx, false);
    if (versions) {
      await ctx.api("POST", v2Path(t, "delete"), { versions });
      return printSuccess(ctx, `Data deleted (if it existed) at: ${displayPath(t, "delete")}`);
    }
    await ctx.api("DELETE", v2Path(t, "data"));
    return printSuccess(ctx, `Data deleted (if it existed) at: ${displayPath(t, "data")}`);
  },
};

function versionAction(name: "undelete" | "destroy", synopsis: string): Command {
  return {
    name: `kv ${name}`,
    args: "PATH",
    synopsis,
    flags: { values: [MOUNT, "versions"] },
    async run(ctx) {
      const t = await target(ctx, 1);
      requirePath(t);
      requireV2(t, name === "undelete" ? "Undelete" : "Destroy");
      const versions = versionsFlag(ctx, true);
      await ctx.api(name === "destroy" ? "PUT" : "POST", v2Path(t, name), { versions });
      return printSuccess(ctx, `Data written to: ${displayPath(t, name)}`);
    },
  };
}

const list: Command = {
  name: "kv list",
  args: "PATH",
  synopsis: "List the keys under a path (folders end in /)",
  flags: { values: [MOUNT] },
  async run(ctx) {
    const t = await target(ctx, 0, 1);
    const shown = t.version === 2
      ? displayPath(t, "metadata", true)
      : displayPath(t, undefined, true);
    const res = await ctx.api("LIST", encodePath(shown), undefined, { accept: [404] });
    const keys = keysOf(res.body);
    if (res.status === 404 || keys.length === 0) return printNotFound(ctx, res.body, shown);
    return printKeys(ctx, keys);
  },
};

export const kvCommands: Command[] = [
  get,
  writer("put"),
  writer("patch"),
  del,
  versionAction("undelete", "Restore soft-deleted versions (-versions=1,2)"),
  versionAction("destroy", "Permanently remove the data of versions (-versions=1,2)"),
  list,
];
