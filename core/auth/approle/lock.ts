/**
 * In-process mutual exclusion by key. A secret-id's read-check-decrement must not interleave
 * with another login or a destroy of the same secret-id, or a single-use secret-id could log in
 * twice (or a destroyed one come back). One process owns the storage, so a promise chain per key
 * is enough; no storage-level locking is needed.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  /** Resolves once `key` is free; call the returned function to release it. */
  async acquire(key: string): Promise<() => void> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => release = r);
    const tail = prev.then(() => mine);
    this.#tails.set(key, tail);
    await prev;
    return () => {
      release();
      // Only the last waiter clears the entry, so the map holds keys that are in use, no more.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
  }

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire(key);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Holds every key while `fn` runs. Keys are taken in sorted order; as long as every caller
   * that holds several keys takes them this way, two callers can never wait on each other.
   */
  async runAll<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const releases: (() => void)[] = [];
    try {
      for (const k of [...new Set(keys)].sort()) releases.push(await this.acquire(k));
      return await fn();
    } finally {
      for (const r of releases.reverse()) r();
    }
  }

  /** Keys currently held or awaited (for tests: it must drain back to zero). */
  get size(): number {
    return this.#tails.size;
  }
}
