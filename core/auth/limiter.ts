/**
 * Brute-force protection for login paths: a sliding window of failures per source address and
 * per identity, with a lockout once an identity reaches its limit. Only failures are counted, so
 * a busy but honest client is never slowed down. State lives in memory (it is advisory and
 * per-node) and is bounded, so a flood of distinct sources or identities cannot exhaust memory.
 */
import type { LoginLimiter, RateLimitDecision } from "./types.ts";
import { parseIp } from "../../lib/cidr.ts";

export interface WindowLimit {
  max: number;
  windowMs: number;
}

export interface SlidingLoginLimiterOptions {
  perSource?: WindowLimit;
  perIdentity?: WindowLimit;
  /** How long an identity stays locked once it reaches `perIdentity.max` failures. */
  lockoutMs?: number;
  /** Most keys tracked per kind; the least recently failed are forgotten first. */
  maxKeys?: number;
  now?: () => number;
}

interface Entry {
  /** Failure times inside the window, oldest first; never longer than the limit's max. */
  times: number[];
  lockedUntil: number;
}

const MINUTE = 60_000;

/** IPv6 clients usually own a whole /64, so counting single addresses would be trivial to dodge. */
function sourceKey(source: string): string {
  const ip = parseIp(source);
  if (!ip?.v6) return source;
  return `v6:${(ip.value >> 64n).toString(16)}::/64`;
}

/**
 * The identity a login counts failures against: the auth mount (its uuid) and the name within it,
 * as Vault's user lockout counts per mount and login name. Encoded so that no name can spell
 * another mount's (or another method's) key, whatever characters it holds.
 */
export function loginIdentity(mountUuid: string, ...name: string[]): string {
  return JSON.stringify([mountUuid, ...name]);
}

function retrySeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

export class SlidingLoginLimiter implements LoginLimiter {
  readonly #source: WindowLimit;
  readonly #identity: WindowLimit;
  readonly #lockoutMs: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #sources = new Map<string, Entry>();
  readonly #identities = new Map<string, Entry>();

  constructor(opts: SlidingLoginLimiterOptions = {}) {
    this.#source = opts.perSource ?? { max: 20, windowMs: MINUTE };
    this.#identity = opts.perIdentity ?? { max: 5, windowMs: 5 * MINUTE };
    this.#lockoutMs = opts.lockoutMs ?? 5 * MINUTE;
    this.#maxKeys = opts.maxKeys ?? 100_000;
    this.#now = opts.now ?? Date.now;
  }

  check(source: string, identity: string): RateLimitDecision {
    const now = this.#now();
    const waits = [
      this.#wait(this.#sources, sourceKey(source), this.#source, now),
      this.#wait(this.#identities, identity, this.#identity, now),
    ];
    const wait = Math.max(...waits);
    return wait > 0 ? { allowed: false, retryAfter: retrySeconds(wait) } : {
      allowed: true,
      retryAfter: 0,
    };
  }

  fail(source: string, identity: string): void {
    const now = this.#now();
    this.#record(this.#sources, sourceKey(source), this.#source, now);
    const e = this.#record(this.#identities, identity, this.#identity, now);
    if (e.times.length >= this.#identity.max && this.#lockoutMs > 0) {
      e.lockedUntil = now + this.#lockoutMs;
      // The count starts afresh after the lockout, as Vault's user lockout does.
      e.times = [];
    }
  }

  succeed(_source: string, identity: string): void {
    // The source's failures stay: one valid account must not reset an address's budget.
    this.#identities.delete(identity);
  }

  /** Number of tracked keys (sources + identities), for metrics and tests. */
  get size(): number {
    return this.#sources.size + this.#identities.size;
  }

  #wait(map: Map<string, Entry>, key: string, limit: WindowLimit, now: number): number {
    const e = map.get(key);
    if (!e) return 0;
    prune(e, limit, now);
    if (e.lockedUntil > now) return e.lockedUntil - now;
    if (e.times.length === 0) {
      map.delete(key);
      return 0;
    }
    return e.times.length >= limit.max ? e.times[0]! + limit.windowMs - now : 0;
  }

  #record(map: Map<string, Entry>, key: string, limit: WindowLimit, now: number): Entry {
    const e = map.get(key) ?? { times: [], lockedUntil: 0 };
    // Re-inserting moves the key to the end, so Map order is least-recently-failed first.
    map.delete(key);
    map.set(key, e);
    prune(e, limit, now);
    e.times.push(now);
    if (e.times.length > limit.max) e.times.shift();
    while (map.size > this.#maxKeys) map.delete(map.keys().next().value!);
    return e;
  }
}

function prune(e: Entry, limit: WindowLimit, now: number): void {
  let drop = 0;
  while (drop < e.times.length && e.times[drop]! <= now - limit.windowMs) drop++;
  if (drop) e.times.splice(0, drop);
}
