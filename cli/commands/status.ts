/**
 * `status`: seal and init state. Exit 0 unsealed, 2 sealed, 1 on any error, so scripts can
 * branch on the code alone, as with `vault status`.
 * @module
 */
import { expectArgs } from "../args.ts";
import type { Command, Ctx } from "../command.ts";
import { CliError, errorText } from "../errors.ts";
import { formatValue, json, type Row, table } from "../format.ts";
import { asObj, type Obj } from "../output.ts";

/** The seal-status rows Vault prints, shared with `operator unseal`. */
export function sealStatusRows(s: Obj): Row[] {
  const rows: Row[] = [
    ["Seal Type", formatValue(s.type)],
    ["Initialized", formatValue(s.initialized)],
    ["Sealed", formatValue(s.sealed)],
    ["Total Shares", formatValue(s.n)],
    ["Threshold", formatValue(s.t)],
  ];
  if (s.sealed === true) {
    rows.push(["Unseal Progress", `${s.progress ?? 0}/${s.t ?? 0}`]);
    if (s.nonce) rows.push(["Unseal Nonce", String(s.nonce)]);
  }
  const optional: [string, unknown][] = [
    ["Version", s.version],
    ["Build Date", s.build_date],
    ["Storage Type", s.storage_type],
    ["Cluster Name", s.cluster_name],
    ["Cluster ID", s.cluster_id],
  ];
  for (const [k, v] of optional) if (v !== undefined && v !== "") rows.push([k, formatValue(v)]);
  return rows;
}

export function printSealStatus(ctx: Ctx, body: unknown): void {
  ctx.io.out(ctx.format === "json" ? json(body) : table(sealStatusRows(asObj(body))));
}

export const statusCommand: Command = {
  name: "status",
  synopsis: "Show seal status (exit 0 unsealed, 2 sealed, 1 error)",
  async run(ctx) {
    expectArgs(ctx, 0);
    try {
      const res = await ctx.api("GET", "sys/seal-status", undefined, {
        action: "checking seal status",
      });
      const sealed = asObj(res.body).sealed;
      // Exit 2 tells a probe "sealed, unseal me": a proxy's or another service's 200 is an
      // error instead.
      if (typeof sealed !== "boolean") {
        const url = (await ctx.client()).url("sys/seal-status");
        throw new CliError(
          `Error checking seal status: GET ${url}: the reply has no boolean "sealed" field ` +
            "(not a SecretHub server?)",
        );
      }
      printSealStatus(ctx, res.body);
      return sealed ? 2 : 0;
    } catch (err) {
      // Exit 2 means "sealed" here, so a failed request must not use it.
      if (err instanceof CliError) {
        ctx.io.err(errorText(err));
        return 1;
      }
      throw err;
    }
  },
};
