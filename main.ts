/**
 * `secrethub` entry point: argv dispatch only. Each sub-command's modules are imported when it
 * runs, so the agent on a small device does not load the server's storage engine, PKI and
 * policy code (and their memory). The specifiers are static strings, so `deno compile` still
 * bundles them.
 */
async function main(argv: string[]): Promise<number> {
  if (argv[0] === "server") return await (await import("./core/mod.ts")).runServer(argv.slice(1));
  if (argv[0] === "agent") return await (await import("./agent/mod.ts")).runAgent(argv.slice(1));
  const { runCli } = await import("./cli/mod.ts");
  const { offlineAuditVerify } = await import("./core/mod.ts");
  return await runCli(argv, { offlineVerify: offlineAuditVerify });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
