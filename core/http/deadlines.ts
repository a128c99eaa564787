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
}

export class Deadlines {
  readonly #ms: number;
  #pending = new Set<Pending>();
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
      const entry: Pending = { at: performance.now() + this.#ms, reject, onAbandon };
      this.#pending.add(entry);
      this.#ensureTimer();
      p.then(
        (v) => {
          this.#pending.delete(entry);
          resolve(v);
        },
        (e) => {
          this.#pending.delete(entry);
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
    for (const e of this.#pending) {
      if (e.at <= now) {
        this.#pending.delete(e);
        try {
          e.onAbandon?.();
        } finally {
          e.reject(new ServiceUnavailable("request timed out"));
        }
      }
    }
    if (this.#pending.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
