/**
 * `secrethub agent -config FILE` (the daemon) and `secrethub agent exec -config FILE -- CMD ARGS`
 * (the daemon supervising CMD with secrets in its environment).
 */
import { FlagError, parseFlags } from "../lib/flags.ts";
import { loadAgentConfig } from "./config.ts";
import { AgentService, type Log } from "./service.ts";
import { execHookFor } from "./exec_runner.ts";

const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;

function say(s: string): void {
  // deno-lint-ignore no-console
  console.error(s);
}

function logger(level: keyof typeof LEVELS): Log {
  return (l, msg, f = {}) => {
    if (LEVELS[l] < LEVELS[level]) return;
    // deno-lint-ignore no-console
    console.error(JSON.stringify({
      "@level": l,
      "@message": msg,
      "@module": "agent",
      "@timestamp": new Date().toISOString(),
      ...f,
    }));
  };
}

export async function runAgent(argv: string[]): Promise<number> {
  const isExec = argv[0] === "exec";
  const rest = isExec ? argv.slice(1) : argv;
  const dash = rest.indexOf("--");
  const flagArgs = dash >= 0 ? rest.slice(0, dash) : rest;
  const command = dash >= 0 ? rest.slice(dash + 1) : [];
  let flags: Map<string, string | true>;
  try {
    flags = parseFlags(flagArgs, { values: ["config", "log-level"] }).flags;
  } catch (e) {
    if (e instanceof FlagError) {
      say(`Error: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const file = flags.get("config") ?? Deno.env.get("SECRETHUB_AGENT_CONFIG");
  if (typeof file !== "string") {
    say("Error: agent needs -config FILE");
    return 1;
  }
  if (isExec && command.length === 0) {
    say("Error: agent exec needs a command after --, e.g. agent exec -config F -- ./app --flag");
    return 1;
  }
  let cfg;
  try {
    cfg = await loadAgentConfig(file);
  } catch (e) {
    say(`Error: ${(e as Error).message}`);
    return 1;
  }
  const level = flags.get("log-level");
  const log = logger(
    (typeof level === "string" && level in LEVELS
      ? level
      : cfg.log_level ?? "info") as keyof typeof LEVELS,
  );
  const exec = isExec || cfg.exec ? execHookFor(cfg, isExec ? command : undefined, log) : undefined;
  const service = new AgentService(cfg, { log, exec });
  try {
    await service.start();
  } catch (e) {
    say(`Error: ${(e as Error).message}`);
    await service.stop().catch(() => {});
    return 1;
  }
  log("info", "agent running", { agent_id: cfg.agent_id, socket: cfg.listener.socket });
  const code = await Promise.race([
    waitForSignal().then(() => 0),
    exec?.exited ?? new Promise<number>(() => {}),
  ]);
  await service.stop();
  return code;
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      Deno.removeSignalListener("SIGINT", done);
      Deno.removeSignalListener("SIGTERM", done);
      resolve();
    };
    Deno.addSignalListener("SIGINT", done);
    Deno.addSignalListener("SIGTERM", done);
  });
}
