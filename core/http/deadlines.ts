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
  readonly #period: number;
  /**
   * performance.now() as of the last sweep (or the timer's start). A deadline is only as precise
   * as the sweep anyway; reading the clock once a sweep instead of once a request saves a call
   * into the runtime on every request.
   */
  #now = 0;

  constructor(ms: number) {
    this.#ms = ms;
    this.#period = Math.min(250, ms);
  }

  /**
   * `p`, or a 503 once the deadline passes. `onAbandon` is called (synchronously, before the
   * 503) when the deadline wins: `p` is still running and its outcome reaches nobody.
   */
  run<T>(p: Promise<T>, onAbandon?: () => void): Promise<T> {
    this.#ensureTimer();
    return new Promise<T>((resolve, reject) => {
      // #now lags the clock by at most one period: adding one keeps every deadline at least
      // `ms` away, and it fires at most two periods late.
      const entry: Pending = {
        at: this.#now + this.#ms + this.#period,
        reject,
        onAbandon,
        settled: false,
      };
      this.#pending.push(entry);
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
    this.#now = performance.now();
    this.#timer = setInterval(() => this.#sweep(), this.#period);
    Deno.unrefTimer(this.#timer);
  }

  #sweep(): void {
    const now = this.#now = performance.now();
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
