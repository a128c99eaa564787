/**
 * `secrethub` entry point: argv dispatch only. Each sub-command's modules are imported when it
 * runs, so the agent on a small device does not load the server's storage engine, PKI and
 * policy code (and their memory), and a CLI command loads only the HTTP client. The specifiers
 * are static strings, so `deno compile` still bundles them.
 */
import type { OfflineVerifyOptions } from "./cli/mod.ts";

const HELP_FLAGS = new Set(["-h", "-help", "--help"]);

/** As Vault's, `server -help` and `agent -help` print usage (exit 0), not "flag not defined". */
function asksHelp(args: string[]): boolean {
  const dash = args.indexOf("--");
  // After `--` come the arguments of the command `agent exec` runs.
  return (dash === -1 ? args : args.slice(0, dash)).some((a) => HELP_FLAGS.has(a));
}

/** Offline `audit verify -db`: the only CLI path that needs core's storage and crypto code. */
async function offlineVerify(opts: OfflineVerifyOptions): Promise<number> {
  return await (await import("./core/audit/offline.ts")).offlineAuditVerify(opts);
}

async function main(argv: string[]): Promise<number> {
  if ((argv[0] === "server" || argv[0] === "agent") && asksHelp(argv.slice(1))) {
    const { agentHelp, serverHelp } = await import("./cli/help.ts");
    // deno-lint-ignore no-console
    console.log(argv[0] === "server" ? serverHelp() : agentHelp());
    return 0;
  }
  if (argv[0] === "server") return await (await import("./core/mod.ts")).runServer(argv.slice(1));
  if (argv[0] === "agent") return await (await import("./agent/mod.ts")).runAgent(argv.slice(1));
  const { runCli } = await import("./cli/mod.ts");
  return await runCli(argv, { offlineVerify });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
