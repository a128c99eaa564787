/**
 * Connects `agent exec` (or the config's `exec` block) to the service: the child starts once
 * every secret its environment names is available, and is restarted (or sent
 * `exec.reload_signal`) only when that environment actually changes. Until then the agent keeps
 * serving and retries on every update.
 */
import type { AgentConfig } from "./config.ts";
import type { ExecHook } from "./exec_hook.ts";
import { buildExecEnv } from "./exec/env.ts";
import { type ChildExit, Supervisor } from "./exec/supervisor.ts";
import type { Log } from "./service.ts";
import type { SecretLookup } from "./template/mod.ts";

/** What the agent's signal handling needs beyond the service's hook. */
export interface ExecControl {
  /** The child's exit code when it exits on its own (128 + signal number if a signal ended it). */
  exited: Promise<number>;
  /** Passes a signal on to the running child, if any (a forwarded SIGHUP). */
  signal(sig: Deno.Signal): void;
  /**
   * Forwards `sig` to the child and waits for it to exit (SIGKILL after the supervisor's grace
   * period); resolves with its exit code, or 0 when no child was running.
   */
  terminate(sig: Deno.Signal): Promise<number>;
}

/** Deno already reports a child ended by a signal as 128 + its number, as a shell does. */
function exitCode(e: ChildExit): number {
  return e.code;
}

export function execHookFor(
  cfg: AgentConfig,
  commandOverride: string[] | undefined,
  log: Log,
): ExecHook & ExecControl {
  const spec = {
    env: cfg.exec?.env ?? {},
    env_prefix: cfg.exec?.env_prefix,
    prefix_paths: cfg.exec?.prefix_paths ?? [],
  };
  const command = commandOverride ?? cfg.exec?.command ?? [];
  const sup = new Supervisor({
    command,
    restartOnChange: cfg.exec?.restart_on_change ?? true,
    reloadSignal: cfg.exec?.reload_signal && `SIG${cfg.exec.reload_signal}`,
    stdout: "inherit",
    stderr: "inherit",
  });
  let started = false;
  let ended: number | undefined;
  const exited = sup.exited.then((e) => (ended = exitCode(e)));
  const apply = async (lookup: SecretLookup) => {
    let env: Record<string, string>;
    try {
      env = buildExecEnv(spec, lookup);
    } catch (e) {
      log("warn", "exec: environment not ready", { error: (e as Error).message });
      return;
    }
    const r = await sup.update(env);
    started = true;
    if (r === "failed") {
      const e = await sup.exited;
      log("error", "exec: child could not be started", { code: e.code, error: e.spawnError });
    } else if (r !== "unchanged") log("info", `exec: child ${r}`, { pid: sup.pid });
  };
  return {
    paths:
      () => [...new Set([...Object.values(spec.env).map((r) => r.path), ...spec.prefix_paths])],
    start: apply,
    update: apply,
    stop: async () => {
      if (started) await sup.stop();
    },
    exited,
    signal: (sig) => sup.signal(sig),
    terminate: async (sig) => {
      const st = await sup.stop(sig);
      if (st) return exitCode(st);
      // No child left to stop: it had already exited on its own (or never started).
      return ended ?? 0;
    },
  };
}
