/**
 * Request timeouts without a timer per request: one coarse sweep (every 250 ms) rejects the
 * requests past their deadline. A per-request setTimeout cost more than the KV read it guarded.
 * The work itself cannot be cancelled and keeps running: a caller whose work may produce
 * something that must not be dropped (credentials) is told when the deadline gave up on it.
 */
import { ServiceUnavailable } from "../../lib/errors.ts";

interface Pending {
  at: number;
  reject: (e: unknown) => void;
  onAbandon: (() => void) | undefined;
  settled: boolean;
}

export class Deadlines {
  readonly #ms: number;
  /**
   * Settled entries stay until the next sweep drops them: a Set's delete on every request cost
   * more (it shrinks and rehashes) than keeping a quarter second of finished entries.
   */
  #pending: Pending[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(ms: number) {
    this.#ms = ms;
  }

  /**
   * `p`, or a 503 once the deadline passes. `onAbandon` is called (synchronously, before the
   * 503) when the deadline wins: `p` is still running and its outcome reaches nobody.
   */
  run<T>(p: Promise<T>, onAbandon?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = {
        at: performance.now() + this.#ms,
        reject,
        onAbandon,
        settled: false,
      };
      this.#pending.push(entry);
      this.#ensureTimer();
      p.then(
        (v) => {
          entry.settled = true;
          resolve(v);
        },
        (e) => {
          entry.settled = true;
          reject(e);
        },
      );
    });
  }

  #ensureTimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#sweep(), Math.min(250, this.#ms));
    Deno.unrefTimer(this.#timer);
  }

  #sweep(): void {
    const now = performance.now();
    const due: Pending[] = [];
    this.#pending = this.#pending.filter((e) => {
      if (e.settled) return false;
      if (e.at > now) return true;
      due.push(e);
      return false;
    });
    for (const e of due) {
      e.settled = true;
      try {
        e.onAbandon?.();
      } finally {
        e.reject(new ServiceUnavailable("request timed out"));
      }
    }
    if (this.#pending.length === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
