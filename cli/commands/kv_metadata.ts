/**
 * `kv metadata get|put|delete`: a KV v2 secret's settings and version history.
 * @module
 */
import { flagBool, flagInt, flagString } from "../../lib/flags.ts";
import type { Command, Ctx } from "../command.ts";
import { json, section, table } from "../format.ts";
import { flagPairs } from "../kv_data.ts";
import { asObj, dataOf, mapFields, printNotFound, printSuccess, rowsOf } from "../output.ts";
import {
  displayPath,
  type KvTarget,
  requirePath,
  requireV2,
  resolveKv,
  v2Path,
} from "./kv_target.ts";
import { expectArgs } from "../args.ts";

async function target(ctx: Ctx): Promise<KvTarget> {
  const t = await resolveKv(ctx, expectArgs(ctx, 1)[0]!);
  requirePath(t);
  requireV2(t, "Metadata");
  return t;
}

const get: Command = {
  name: "kv metadata get",
  args: "PATH",
  synopsis: "Show a secret's metadata and the state of every version",
  flags: { values: ["mount"] },
  async run(ctx) {
    const t = await target(ctx);
    const shown = displayPath(t, "metadata");
    const res = await ctx.api("GET", v2Path(t, "metadata"), undefined, { accept: [404] });
    if (res.status === 404) return printNotFound(ctx, res.body, shown);
    if (ctx.format === "json") {
      ctx.io.out(json(res.body));
      return 0;
    }
    const { versions, ...meta } = dataOf(res.body);
    const parts = [
      section("Metadata Path", shown),
      section("Metadata", table(rowsOf(mapFields(meta)))),
    ];
    const v = asObj(versions);
    for (const n of Object.keys(v).sort((a, b) => Number(a) - Number(b))) {
      parts.push(section(`Version ${n}`, table(rowsOf(mapFields(asObj(v[n]))))));
    }
    ctx.io.out(parts.join("\n\n"));
    return 0;
  },
};

const put: Command = {
  name: "kv metadata put",
  args: "PATH",
  synopsis: "Set max versions, CAS, auto-delete age or custom metadata",
  flags: {
    values: ["mount", "max-versions", "delete-version-after", "custom-metadata"],
    booleans: ["cas-required"],
  },
  async run(ctx) {
    const t = await target(ctx);
    const body: Record<string, unknown> = {};
    const maxVersions = flagInt(ctx.parsed, "max-versions");
    if (maxVersions !== undefined) body.max_versions = maxVersions;
    const casRequired = flagBool(ctx.parsed, "cas-required");
    if (casRequired !== undefined) body.cas_required = casRequired;
    const after = flagString(ctx.parsed, "delete-version-after");
    if (after !== undefined) body.delete_version_after = after;
    const custom = flagPairs(ctx.parsed, "custom-metadata");
    if (custom) body.custom_metadata = custom;
    await ctx.api("POST", v2Path(t, "metadata"), body);
    return printSuccess(ctx, `Data written to: ${displayPath(t, "metadata")}`);
  },
};

const del: Command = {
  name: "kv metadata delete",
  args: "PATH",
  synopsis: "Delete a secret's metadata and all of its versions",
  flags: { values: ["mount"] },
  async run(ctx) {
    const t = await target(ctx);
    await ctx.api("DELETE", v2Path(t, "metadata"));
    return printSuccess(ctx, `Data deleted (if it existed) at: ${displayPath(t, "metadata")}`);
  },
};

export const kvMetadataCommands: Command[] = [get, put, del];
