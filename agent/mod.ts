/**
 * `secrethub agent -config FILE` (the daemon) and `secrethub agent exec -config FILE -- CMD ARGS`
 * (the daemon supervising CMD with secrets in its environment).
 */
import { FlagError, parseFlags } from "../lib/flags.ts";
import { loadAgentConfig } from "./config.ts";
import { AgentService, type Log } from "./service.ts";
import { execHookFor } from "./exec_runner.ts";
import { DirLockError, lockDir } from "../lib/dir_lock.ts";

const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;
type Level = keyof typeof LEVELS;

/** Own keys only: `l in LEVELS` also took "toString" and "constructor". */
function isLevel(l: string): l is Level {
  return Object.hasOwn(LEVELS, l);
}

/** The lock file in state_dir that keeps a second agent off the same state and socket. */
const LOCK_FILE = "agent.lock";

function say(s: string): void {
  // deno-lint-ignore no-console
  console.error(s);
}

function logger(level: Level): Log {
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
  const level = flags.get("log-level");
  if (typeof level === "string" && !isLevel(level)) {
    say(
      `Error: -log-level: invalid log level ${JSON.stringify(level)} ` +
        `(one of ${Object.keys(LEVELS).join(", ")})`,
    );
    return 1;
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
    cfg = await loadAgentConfig(file, { commandOnCommandLine: isExec });
  } catch (e) {
    say(`Error: ${(e as Error).message}`);
    return 1;
  }
  const log = logger(typeof level === "string" ? level as Level : cfg.log_level ?? "info");
  let lock;
  try {
    lock = await lockDir(cfg.state_dir, {
      file: LOCK_FILE,
      key: "state_dir",
      holder: "another agent",
    });
  } catch (e) {
    if (!(e instanceof DirLockError)) throw e;
    say(`Error: ${file}: ${e.message}`);
    return 1;
  }
  const exec = isExec || cfg.exec ? execHookFor(cfg, isExec ? command : undefined, log) : undefined;
  let stopping = false;
  // Listening from before start: without a listener SIGHUP's default action kills the agent
  // on the spot (no shutdown, socket left behind, an exec child orphaned with its secrets).
  const signals = watchSignals((sig) => {
    if (sig === "SIGHUP") {
      // Accepted and ignored: the config is read once at start (restart to change it); the
      // templates re-render on every change core pushes anyway. The child gets it, as Vault
      // Agent passes signals on to the process it supervises.
      log("info", "SIGHUP received: ignored (restart the agent to apply config changes)", {
        forwarded_to_child: exec !== undefined,
      });
      exec?.signal("SIGHUP");
    } else if (stopping) {
      exec?.signal(sig);
    }
  });
  const service = new AgentService(cfg, { log, exec });
  try {
    await service.start();
  } catch (e) {
    say(`Error: ${(e as Error).message}`);
    await service.stop().catch(() => {});
    signals.dispose();
    lock.release();
    return 1;
  }
  log("info", "agent running", { agent_id: cfg.agent_id, socket: cfg.listener.socket });
  const ended = await Promise.race([
    signals.stop.then((signal) => ({ signal })),
    (exec?.exited ?? new Promise<number>(() => {})).then((code) => ({ code })),
  ]);
  let code: number;
  if ("signal" in ended) {
    stopping = true;
    log("info", "shutting down", { signal: ended.signal });
    // The child decides how it ends (it may trap the signal); its code is the agent's.
    code = exec ? await exec.terminate(ended.signal) : 0;
  } else {
    code = ended.code;
    log("info", "exec: child exited, shutting down", { code });
  }
  await service.stop();
  signals.dispose();
  lock.release();
  return code;
}

const STOP_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * `stop` resolves with the first SIGINT/SIGTERM; every signal (that one, later ones, SIGHUP) is
 * also passed to `on`. Listeners stay until `dispose()`, so a second SIGTERM during shutdown does
 * not kill the agent before the child has exited.
 */
function watchSignals(on: (sig: Deno.Signal) => void): {
  stop: Promise<Deno.Signal>;
  dispose(): void;
} {
  let resolve!: (s: Deno.Signal) => void;
  const stop = new Promise<Deno.Signal>((r) => (resolve = r));
  const handlers = [...STOP_SIGNALS, "SIGHUP" as const].map((sig) => {
    const h = () => {
      if (sig !== "SIGHUP") resolve(sig);
      on(sig);
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  return {
    stop,
    dispose: () => handlers.forEach(([s, h]) => Deno.removeSignalListener(s, h)),
  };
}
