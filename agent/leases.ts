/**
 * Keeps the leases of dynamic secrets the agent holds alive: renew at two thirds of the lease,
 * and when a lease cannot be renewed (not renewable, renewal refused, max TTL reached) fetch new
 * credentials before the old ones expire, so templates re-render with them in time.
 */
export interface LeaseRenewerOptions {
  now: () => number;
  renew: (leaseId: string, increment: number) => Promise<Record<string, unknown> | null>;
  refetch: (path: string) => void;
  log: (level: "info" | "warn", msg: string, f?: Record<string, unknown>) => void;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

interface Held {
  path: string;
  leaseId: string;
  seconds: number;
  renewable: boolean;
  timer: ReturnType<typeof setTimeout>;
}

export class LeaseRenewer {
  readonly #o: LeaseRenewerOptions;
  readonly #byPath = new Map<string, Held>();

  constructor(o: LeaseRenewerOptions) {
    this.#o = o;
  }

  /** Starts (or replaces) tracking for a path; no lease → nothing to do. */
  track(path: string, leaseId: string, seconds: number, renewable: boolean): void {
    this.forget(path);
    if (!leaseId || seconds <= 0) return;
    const held: Held = { path, leaseId, seconds, renewable, timer: 0 as never };
    this.#byPath.set(path, held);
    this.#arm(held, this.#o.now() + (seconds * 1000 * 2) / 3);
  }

  /** Timers hold at most ~24.8 days (a longer delay fires at once): wait in steps. */
  #arm(h: Held, dueAt: number): void {
    const wait = Math.max(0, Math.min(dueAt - this.#o.now(), MAX_TIMER_MS));
    h.timer = setTimeout(() => {
      if (this.#byPath.get(h.path) !== h) return;
      if (this.#o.now() < dueAt) this.#arm(h, dueAt);
      else void this.#due(h);
    }, wait);
    Deno.unrefTimer(h.timer as unknown as number);
  }

  pathOf(leaseId: string): string | undefined {
    for (const h of this.#byPath.values()) if (h.leaseId === leaseId) return h.path;
    return undefined;
  }

  forget(path: string): void {
    const h = this.#byPath.get(path);
    if (h) clearTimeout(h.timer);
    this.#byPath.delete(path);
  }

  stop(): void {
    for (const p of [...this.#byPath.keys()]) this.forget(p);
  }

  async #due(h: Held): Promise<void> {
    if (this.#byPath.get(h.path) !== h) return;
    if (h.renewable) {
      try {
        const r = await this.#o.renew(h.leaseId, h.seconds);
        const granted = Number(r?.lease_duration ?? 0);
        // A renewal that grants less than a third of what we asked is the max TTL closing in.
        if (granted > h.seconds / 3) {
          this.track(h.path, h.leaseId, granted, true);
          return;
        }
      } catch (e) {
        this.#o.log("warn", "lease renewal failed; fetching new credentials", {
          path: h.path,
          error: (e as Error).message,
        });
      }
    }
    this.forget(h.path);
    this.#o.refetch(h.path);
  }
}
