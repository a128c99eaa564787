/**
 * Connects `agent exec` (or the config's `exec` block) to the service: the child starts once
 * every secret its environment names is available, and is restarted (or sent
 * `exec.reload_signal`) only when that environment actually changes. Until then the agent keeps
 * serving and retries on every update.
 */
import type { AgentConfig } from "./config.ts";
import type { ExecHook } from "./exec_hook.ts";
import { buildExecEnv } from "./exec/env.ts";
import { Supervisor } from "./exec/supervisor.ts";
import type { Log } from "./service.ts";
import type { SecretLookup } from "./template/mod.ts";

export function execHookFor(
  cfg: AgentConfig,
  commandOverride: string[] | undefined,
  log: Log,
): ExecHook & { exited: Promise<number> } {
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
    if (r !== "unchanged") log("info", `exec: child ${r}`, { pid: sup.pid });
  };
  return {
    paths:
      () => [...new Set([...Object.values(spec.env).map((r) => r.path), ...spec.prefix_paths])],
    start: apply,
    update: apply,
    stop: async () => {
      if (started) await sup.stop();
    },
    exited: sup.exited.then((e) => e.code),
  };
}
