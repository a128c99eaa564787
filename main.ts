/** `secrethub` entry point: argv dispatch only. */
import { runServer } from "./core/mod.ts";
import { runCli } from "./cli/mod.ts";
import { offlineAuditVerify } from "./core/mod.ts";

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "server") return await runServer(argv.slice(1));
  return await runCli(argv, { offlineVerify: offlineAuditVerify });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
