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
  /** The error the deadline rejects with; the 503 "request timed out" when unset. */
  timeout: (() => unknown) | undefined;
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
   *
   * `from`: when the request started (performance.now()), so that several steps of one request
   * (reading its body, then its handler) share one deadline, `ms` after that start; without it
   * the deadline is `ms` after this call. `timeout`: the error to reject with instead of the 503.
   * (Positional, not an options object: this runs on every request.)
   */
  run<T>(
    p: Promise<T>,
    onAbandon?: () => void,
    from?: number,
    timeout?: () => unknown,
  ): Promise<T> {
    this.#ensureTimer();
    return new Promise<T>((resolve, reject) => {
      // #now lags the clock by at most one period: adding one keeps every deadline at least
      // `ms` away, and it fires at most two periods late. A start read from the clock needs no
      // such margin.
      const entry: Pending = {
        at: from !== undefined ? from + this.#ms : this.#now + this.#ms + this.#period,
        reject,
        onAbandon,
        timeout,
        prev: null,
        next: null,
      };
      this.#insert(entry);
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

  /**
   * Links `e` in deadline order. Deadlines from this call's time arrive in order; one from an
   * earlier start may belong a little before the tail, so the walk is from the tail (a step or
   * two at most in practice).
   */
  #insert(e: Pending): void {
    let after = this.#tail;
    while (after !== null && after.at > e.at) after = after.prev;
    e.prev = after;
    e.next = after ? after.next : this.#head;
    if (e.next) e.next.prev = e;
    else this.#tail = e;
    if (after) after.next = e;
    else this.#head = e;
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
    e.timeout = undefined;
  }

  #ensureTimer(): void {
    if (this.#timer !== undefined) return;
    this.#now = performance.now();
    this.#timer = setInterval(() => this.#sweep(), this.#period);
    Deno.unrefTimer(this.#timer);
  }

  #sweep(): void {
    const now = this.#now = performance.now();
    // The list is kept in deadline order (see #insert): the due ones are a prefix of it.
    while (this.#head !== null && this.#head.at <= now) {
      const e = this.#head;
      const reject = e.reject!;
      const onAbandon = e.onAbandon;
      const timeout = e.timeout;
      this.#unlink(e);
      try {
        onAbandon?.();
      } finally {
        reject(timeout ? timeout() : new ServiceUnavailable("request timed out"));
      }
    }
    if (this.#head === null) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
