/**
 * The agent's in-memory secret cache: LRU bounded by entry count, with an explicit offline policy.
 *
 * Age is measured from the last time core *confirmed* an entry (fetched it, or told us over the
 * link that it is still current), not from when it was first fetched. An entry unconfirmed for
 * longer than `max_stale` is never served: `get` says so with a distinct result, so the socket API
 * fails closed (503) instead of handing out credentials that may have been rotated or revoked.
 */

export interface CacheEntry {
  path: string;
  /** The response data as core returned it (for KV v2 the whole `data` envelope member). */
  data: Record<string, unknown>;
  version?: number;
  /** Epoch ms when core last sent the value. */
  fetchedAt: number;
  /** Epoch ms when core last confirmed the value (>= fetchedAt). */
  confirmedAt: number;
  /** How long the value may be used without refreshing (lease duration), in ms. */
  ttlMs?: number;
}

export type CacheLookup =
  /** `stale`: older than its TTL; usable while offline, refresh when online. */
  | { kind: "hit"; entry: CacheEntry; stale: boolean; ageMs: number }
  /** Held, but unconfirmed for longer than max_stale: must not be served. */
  | { kind: "too_stale"; ageMs: number; maxStaleMs: number }
  | { kind: "miss" };

export interface SecretCacheOptions {
  maxEntries: number;
  maxStaleMs: number;
  /** Called for entries pushed out by the LRU bound, e.g. to delete their persisted copy. */
  onEvict?: (path: string) => void;
}

export class SecretCache {
  readonly maxEntries: number;
  readonly maxStaleMs: number;
  readonly #onEvict: ((path: string) => void) | undefined;
  /** Map iteration order is insertion order: the first key is the least recently used. */
  readonly #entries = new Map<string, CacheEntry>();

  constructor(opts: SecretCacheOptions) {
    if (!Number.isInteger(opts.maxEntries) || opts.maxEntries < 1) {
      throw new RangeError(`Invalid maxEntries: ${opts.maxEntries}`);
    }
    if (!(opts.maxStaleMs >= 0)) throw new RangeError(`Invalid maxStaleMs: ${opts.maxStaleMs}`);
    this.maxEntries = opts.maxEntries;
    this.maxStaleMs = opts.maxStaleMs;
    this.#onEvict = opts.onEvict;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(path: string, now: number): CacheLookup {
    const entry = this.#entries.get(path);
    if (!entry) return { kind: "miss" };
    // A clock stepping backwards must not make an entry look younger than zero.
    const ageMs = Math.max(0, now - entry.confirmedAt);
    if (ageMs > this.maxStaleMs) return { kind: "too_stale", ageMs, maxStaleMs: this.maxStaleMs };
    this.#entries.delete(path);
    this.#entries.set(path, entry);
    const stale = entry.ttlMs !== undefined && Math.max(0, now - entry.fetchedAt) > entry.ttlMs;
    return { kind: "hit", entry, stale, ageMs };
  }

  /** Stores a value core just sent; returns the paths evicted to stay within maxEntries. */
  put(entry: CacheEntry): string[] {
    this.#entries.delete(entry.path);
    this.#entries.set(entry.path, { ...entry });
    const evicted: string[] = [];
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
      evicted.push(oldest);
      this.#onEvict?.(oldest);
    }
    return evicted;
  }

  /** Core confirmed the cached value is still current; false when the path is not cached. */
  touch(path: string, now: number): boolean {
    const e = this.#entries.get(path);
    if (!e) return false;
    e.confirmedAt = Math.max(e.confirmedAt, now);
    return true;
  }

  /** Core reported a change (rotation, deletion, policy): drop the entry. */
  invalidate(path: string): boolean {
    return this.#entries.delete(path);
  }

  /** The cached version of `path`, regardless of age (to compare with a rotation push). */
  version(path: string): number | undefined {
    return this.#entries.get(path)?.version;
  }

  /** Every entry, least recently used first; for persistence and status. */
  entries(): CacheEntry[] {
    return [...this.#entries.values()].map((e) => ({ ...e }));
  }

  /** Age in ms of the least recently confirmed entry (for `/v1/agent/status`); 0 when empty. */
  oldestAgeMs(now: number): number {
    let oldest = 0;
    for (const e of this.#entries.values()) oldest = Math.max(oldest, now - e.confirmedAt);
    return oldest;
  }
}
