/**
 * Per-secret mutual exclusion. Every write is read-modify-write of `meta/<path>`; without this two
 * concurrent writers would both read version N, both pass a `cas: N` check and both write N+1.
 * Vault does the same with its lock stripes. It is per process, which is all a single node needs.
 */
export class KeyLock {
  #tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      // Drop the entry when nobody queued behind us, so the map does not grow with every path.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }
}
