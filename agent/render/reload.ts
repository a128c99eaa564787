/**
 * Tells an application that its rendered secrets changed: either run an argv (never a shell, so
 * nothing in a config or a secret can inject commands) or send a signal to one explicit PID.
 * There is deliberately no kill-by-name.
 */

export const RELOAD_SIGNALS = ["HUP", "TERM", "USR1", "USR2", "INT"] as const;
export type ReloadSignal = typeof RELOAD_SIGNALS[number];

export type ReloadSpec =
  | { command: string[]; timeoutMs?: number }
  | { signal: ReloadSignal; pid_file?: string; pid?: number };

export type ReloadResult =
  | { kind: "command"; code: number; timedOut: boolean }
  | { kind: "signal"; pid: number; signal: ReloadSignal };

/** Commands that hang must not stall every later render. */
export const DEFAULT_RELOAD_TIMEOUT_MS = 30_000;

export class ReloadError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = "ReloadError";
  }
}

/** Runs the reload; throws ReloadError when it could not be carried out at all. */
export async function runReload(spec: ReloadSpec): Promise<ReloadResult> {
  if ("command" in spec) return await runCommand(spec.command, spec.timeoutMs);
  const pid = spec.pid !== undefined
    ? checkPid(String(spec.pid))
    : await readPidFile(spec.pid_file);
  if (!RELOAD_SIGNALS.includes(spec.signal)) {
    throw new ReloadError(
      `Cannot send signal "${spec.signal}": not one of ${RELOAD_SIGNALS.join(", ")}`,
    );
  }
  try {
    Deno.kill(pid, `SIG${spec.signal}`);
  } catch (e) {
    throw new ReloadError(`Cannot send SIG${spec.signal} to pid ${pid}`, { cause: e });
  }
  return { kind: "signal", pid, signal: spec.signal };
}

async function runCommand(
  argv: string[],
  timeoutMs = DEFAULT_RELOAD_TIMEOUT_MS,
): Promise<ReloadResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new ReloadError("Cannot run reload command: the argv is empty");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
  } catch (e) {
    throw new ReloadError(`Cannot run reload command "${cmd}"`, { cause: e });
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* exited meanwhile */ }
  }, timeoutMs);
  try {
    // Deno reports a child killed by a signal as 128 + signal number, like a shell.
    const { code } = await child.status;
    return { kind: "command", code, timedOut };
  } finally {
    clearTimeout(timer);
  }
}

async function readPidFile(file: string | undefined): Promise<number> {
  if (!file) throw new ReloadError("Cannot send a reload signal: neither pid nor pid_file is set");
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new ReloadError(`Cannot read pid file "${file}"`, { cause: e });
  }
  return checkPid(text.trim(), file);
}

/** Only a plain positive integer; pid 1 (init) is never a sensible reload target. */
function checkPid(text: string, file?: string): number {
  const where = file ? ` in "${file}"` : "";
  if (!/^[0-9]{1,10}$/.test(text)) {
    throw new ReloadError(`Invalid pid${where}: not a positive integer`);
  }
  const pid = Number(text);
  if (pid < 2 || pid > 0x3fffffff) {
    throw new ReloadError(`Invalid pid${where}: ${pid} is out of range`);
  }
  return pid;
}
