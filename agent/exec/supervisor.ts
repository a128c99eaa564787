/**
 * Runs one child process with secrets in its environment and keeps it in step with them:
 * `update()` restarts the child (SIGTERM, then SIGKILL after a grace period), or only signals
 * it, when the secret environment really changed. The child is started from an argv, never
 * through a shell.
 */

export interface SupervisorOptions {
  command: string[];
  /** Environment the secrets are layered on; default: the agent's own environment. */
  baseEnv?: Record<string, string>;
  /** false: keep the running child on change (it sees new values only when it exits). */
  restartOnChange?: boolean;
  /**
   * Send this signal on change instead of restarting (wins over `restartOnChange`). An
   * environment cannot be changed from outside, so the child keeps its old one: this suits
   * programs that re-read their secrets from a rendered file or the agent socket.
   */
  reloadSignal?: Deno.Signal;
  /** Grace period between SIGTERM and SIGKILL on restart/stop. Default 10 s. */
  stopTimeoutMs?: number;
  stdout?: "inherit" | "null";
  stderr?: "inherit" | "null";
}

/** "failed": the child could not be started; `exited` has resolved (code 126 or 127). */
export type UpdateResult =
  | "unchanged"
  | "restarted"
  | "signalled"
  | "ignored"
  | "started"
  | "failed";

export interface ChildExit {
  code: number;
  signal: Deno.Signal | null;
  /** Why the child could not be started at all, when that is how it ended. */
  spawnError?: string;
}

export class Supervisor {
  readonly #opts: SupervisorOptions;
  #env: Record<string, string> | undefined;
  #child: Deno.ChildProcess | undefined;
  /** Set while we stop the child ourselves, so that exit is not reported as the final one. */
  #stopping = false;
  /** Set by stop(): a secret change arriving during shutdown must not start a new child. */
  #closed = false;
  #queue: Promise<unknown> = Promise.resolve();
  #resolveExit!: (e: ChildExit) => void;
  /** Resolves when the child exits on its own (not when we restart it): the agent's exit code. */
  readonly exited: Promise<ChildExit>;

  constructor(opts: SupervisorOptions) {
    if (opts.command.length === 0) throw new TypeError("Cannot supervise an empty command");
    this.#opts = opts;
    this.exited = new Promise((r) => (this.#resolveExit = r));
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the child with `secretEnv`; the same as the first `update()`. */
  start(secretEnv: Record<string, string>): Promise<UpdateResult> {
    return this.update(secretEnv);
  }

  update(secretEnv: Record<string, string>): Promise<UpdateResult> {
    const run = this.#queue.then(() => this.#update({ ...secretEnv }));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #update(secretEnv: Record<string, string>): Promise<UpdateResult> {
    if (this.#closed) return "ignored";
    if (!this.#child) {
      this.#env = secretEnv;
      return this.#spawn() ? "started" : "failed";
    }
    if (sameEnv(this.#env!, secretEnv)) return "unchanged";
    if (this.#opts.reloadSignal) {
      // Remembered as what the child was told about, so an identical later update is not
      // signalled again.
      this.#env = secretEnv;
      this.signal(this.#opts.reloadSignal);
      return "signalled";
    }
    if (this.#opts.restartOnChange === false) return "ignored";
    this.#env = secretEnv;
    await this.#stopChild("SIGTERM");
    return this.#spawn() ? "restarted" : "failed";
  }

  /** Stops the child for good (agent shutdown); resolves with how it ended. */
  stop(signal: Deno.Signal = "SIGTERM"): Promise<ChildExit | undefined> {
    this.#closed = true;
    const run = this.#queue.then(async () => {
      const st = await this.#stopChild(signal);
      if (st) this.#resolveExit(st);
      return st;
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Sends a signal to the running child (e.g. a forwarded SIGTERM or SIGINT). */
  signal(sig: Deno.Signal): void {
    try {
      this.#child?.kill(sig);
    } catch { /* already gone */ }
  }

  /**
   * Forwards SIGTERM/SIGINT sent to the agent to the child, whose own exit then ends the
   * supervision (resolving `exited`). Returns a function that removes the forwarding.
   */
  forwardSignals(signals: Deno.Signal[] = ["SIGTERM", "SIGINT"]): () => void {
    const handlers = signals.map((s) => {
      const h = () => this.signal(s);
      Deno.addSignalListener(s, h);
      return [s, h] as const;
    });
    return () => handlers.forEach(([s, h]) => Deno.removeSignalListener(s, h));
  }

  /**
   * A child that cannot be started ends the supervision as a child exiting at once would, with a
   * shell's codes: 127 when there is no such program, 126 when it cannot be run. Supervising
   * nothing forever would leave the agent up with its program silently gone.
   */
  #spawn(): boolean {
    const [cmd, ...args] = this.#opts.command;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(cmd!, {
        args,
        env: { ...(this.#opts.baseEnv ?? Deno.env.toObject()), ...this.#env },
        clearEnv: true,
        stdin: "null",
        stdout: this.#opts.stdout ?? "inherit",
        stderr: this.#opts.stderr ?? "inherit",
      }).spawn();
    } catch (e) {
      this.#closed = true;
      this.#resolveExit({
        code: e instanceof Deno.errors.NotFound ? 127 : 126,
        signal: null,
        spawnError: `cannot start "${cmd}": ${(e as Error).message}`,
      });
      return false;
    }
    this.#child = child;
    child.status.then((st) => {
      // Our own restart/stop already handles this exit; anything else is the child ending itself.
      if (this.#child === child && !this.#stopping) {
        this.#child = undefined;
        this.#resolveExit({ code: st.code, signal: st.signal });
      }
    });
    return true;
  }

  async #stopChild(signal: Deno.Signal): Promise<ChildExit | undefined> {
    const child = this.#child;
    if (!child) return undefined;
    this.#stopping = true;
    try {
      try {
        child.kill(signal);
      } catch { /* exited meanwhile */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((r) => {
        timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* exited meanwhile */ }
          r();
        }, this.#opts.stopTimeoutMs ?? 10_000);
      });
      const st = await Promise.race([child.status, killed.then(() => child.status)]);
      clearTimeout(timer);
      this.#child = undefined;
      return { code: st.code, signal: st.signal };
    } finally {
      this.#stopping = false;
    }
  }
}

function sameEnv(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}
