/**
 * A bounded LRU of stored (still encrypted) values, like Vault's physical cache. It is filled
 * on read and updated only after a commit succeeds, so it never shows an unacknowledged write.
 * Valid while this process is the only writer of the file (the embedded-storage deployment).
 */
interface Slot {
  value: Uint8Array;
  /** #ticks when this entry was last moved to the young end. */
  used: number;
}

export class BlobCache {
  #map = new Map<string, Slot>();
  #bytes = 0;
  #ticks = 0;
  readonly #maxBytes: number;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get(key: string): Uint8Array | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    // Re-inserting marks it most recently used (a Map keeps insertion order). An entry moved
    // within the last size/2 lookups is still in the young half: moving it again on every hit
    // (two hot keys per KV read) cost more than the lookup.
    const tick = ++this.#ticks;
    if (tick - slot.used > this.#map.size / 2) {
      this.#map.delete(key);
      this.#map.set(key, slot);
      slot.used = tick;
    }
    return slot.value;
  }

  set(key: string, value: Uint8Array): void {
    if (this.#maxBytes <= 0 || value.length > this.#maxBytes / 16) return;
    this.delete(key);
    this.#map.set(key, { value, used: ++this.#ticks });
    this.#bytes += value.length + key.length;
    while (this.#bytes > this.#maxBytes) {
      const oldest = this.#map.keys().next().value as string;
      this.delete(oldest);
    }
  }

  /** Updates an entry only if it is already cached. */
  replace(key: string, value: Uint8Array): void {
    if (this.#map.has(key)) this.set(key, value);
  }

  delete(key: string): void {
    const slot = this.#map.get(key);
    if (slot === undefined) return;
    this.#map.delete(key);
    this.#bytes -= slot.value.length + key.length;
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }
}
