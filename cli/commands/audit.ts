/**
 * `audit verify`: checks the audit log's hash chain. Online it asks the running server
 * (`GET sys/audit/verify`); with `-db FILE` it verifies a database file offline through the
 * `offlineVerify` hook given to runCli, which keeps storage and crypto code out of the client.
 * @module
 */
import { flagString, flagStrings } from "../../lib/flags.ts";
import { AUDIT_ANOMALY_EXIT } from "../../lib/audit_verify.ts";
import type { Command, Ctx } from "../command.ts";
import { CliError, UsageError } from "../errors.ts";
import { dataOf, type Obj, printMap } from "../output.ts";

const OFFLINE_FLAGS = ["db", "key-file", "unseal-key"];

/** The server answers `{ok, checked, first_bad_seq, reason}`; either signal means broken. */
export function chainBroken(d: Obj): boolean {
  return d.ok === false || typeof d.first_bad_seq === "number";
}

function runOffline(ctx: Ctx): Promise<number> {
  const db = flagString(ctx.parsed, "db");
  if (!db) throw new UsageError("-db FILE is required for offline verification");
  if (!ctx.offlineVerify) {
    throw new CliError("Offline audit verification is not available in this build");
  }
  return ctx.offlineVerify({
    db,
    keyFile: flagString(ctx.parsed, "key-file"),
    unsealKeys: flagStrings(ctx.parsed, "unseal-key"),
    format: ctx.format,
    args: ctx.args,
    env: ctx.env,
    stdout: ctx.io.out,
    stderr: ctx.io.err,
    readStdin: ctx.io.readStdin,
  });
}

export const auditVerifyCommand: Command = {
  name: "audit verify",
  synopsis: "Verify the audit hash chain (offline with -db FILE)",
  flags: { values: OFFLINE_FLAGS },
  async run(ctx) {
    if (OFFLINE_FLAGS.some((f) => ctx.parsed.flags.has(f))) return await runOffline(ctx);
    if (ctx.args.length > 0) throw new UsageError("Too many arguments (expected 0)");
    const res = await ctx.api("GET", "sys/audit/verify", undefined, {
      action: "verifying the audit log",
    });
    const d = dataOf(res.body);
    printMap(ctx, d);
    if (chainBroken(d)) {
      ctx.io.err("Error: the audit hash chain is broken");
      return 1;
    }
    const anomalies = Array.isArray(d.anomalies) ? d.anomalies : [];
    if (anomalies.length === 0) return 0;
    ctx.io.err(
      `Warning: the audit chain records ${anomalies.length} anomal${
        anomalies.length === 1 ? "y" : "ies"
      } (records may have been removed while the server was down)`,
    );
    return AUDIT_ANOMALY_EXIT;
  },
};
