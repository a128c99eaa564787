/**
 * Request timeouts without a timer per request: one coarse sweep (every 250 ms) rejects the
 * requests past their deadline. A per-request setTimeout cost more than the KV read it guarded.
 * The work itself cannot be cancelled and keeps running: a caller whose work may produce
 * something that must not be dropped (credentials) is told when the deadline gave up on it.
 */
import { ServiceUnavailable } from "../../lib/errors.ts";

interface Pending {
  at: number;
  reject: ((e: unknown) => void) | null;
  onAbandon: (() => void) | undefined;
  prev: Pending | null;
  next: Pending | null;
}

export class Deadlines {
  readonly #ms: number;
  /**
   * Unsettled requests, oldest first, as a list linked through the entries: a request unlinks
   * itself when it settles, so nothing of it outlives it. Settled entries used to stay in an
   * array until the next sweep, each holding its request's closures for up to a quarter second:
   * under load that kept ~700 KB alive through every scavenge and promoted ~400 KB of it.
   */
  #head: Pending | null = null;
  #tail: Pending | null = null;
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
        prev: this.#tail,
        next: null,
      };
      if (this.#tail) this.#tail.next = entry;
      else this.#head = entry;
      this.#tail = entry;
      p.then(
        (v) => {
          if (entry.reject === null) return;
          this.#unlink(entry);
          resolve(v);
        },
        (e) => {
          if (entry.reject === null) return;
          this.#unlink(entry);
          reject(e);
        },
      );
    });
  }

  /** Requests still running (tests and diagnostics). */
  get size(): number {
    let n = 0;
    for (let e = this.#head; e !== null; e = e.next) n++;
    return n;
  }

  /** Takes a settled (or expired) entry out of the list and drops its closures. */
  #unlink(e: Pending): void {
    if (e.prev) e.prev.next = e.next;
    else this.#head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.#tail = e.prev;
    e.prev = e.next = null;
    e.reject = null;
    e.onAbandon = undefined;
  }

  #ensureTimer(): void {
    if (this.#timer !== undefined) return;
    this.#now = performance.now();
    this.#timer = setInterval(() => this.#sweep(), this.#period);
    Deno.unrefTimer(this.#timer);
  }

  #sweep(): void {
    const now = this.#now = performance.now();
    // Deadlines are added in order (same `ms`, a clock that only moves forward): the due ones
    // are a prefix of the list.
    while (this.#head !== null && this.#head.at <= now) {
      const e = this.#head;
      const reject = e.reject!;
      const onAbandon = e.onAbandon;
      this.#unlink(e);
      try {
        onAbandon?.();
      } finally {
        reject(new ServiceUnavailable("request timed out"));
      }
    }
    if (this.#head === null) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
