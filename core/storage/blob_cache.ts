/**
 * A bounded LRU of stored (still encrypted) values, like Vault's physical cache. It is filled
 * on read and updated only after a commit succeeds, so it never shows an unacknowledged write.
 * Valid while this process is the only writer of the file (the embedded-storage deployment).
 */
interface Slot {
  value: Uint8Array;
  /** Read since it was inserted or last given its second chance. */
  used: boolean;
}

/**
 * The LRU is approximated by second chance (CLOCK): a hit only marks its entry, and eviction
 * takes entries from the old end of the Map (which keeps insertion order), moving a marked one
 * to the young end unmarked instead of dropping it. Hits, by far the most common call on the
 * read path, then never reorder the Map: re-inserting on every hit cost more than the lookup.
 */
export class BlobCache {
  #map = new Map<string, Slot>();
  #bytes = 0;
  readonly #maxBytes: number;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get(key: string): Uint8Array | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  set(key: string, value: Uint8Array): void {
    // Dropped first: a value too big to keep must not leave the one it replaced being served.
    this.delete(key);
    if (this.#maxBytes <= 0 || value.length > this.#maxBytes / 16) return;
    this.#map.set(key, { value, used: false });
    this.#bytes += value.length + key.length;
    // Ends: what is moved is unmarked, so within one round of the Map an unmarked entry comes
    // up. The one just inserted comes up only once every other was moved; it is moved too, as
    // it was used just now, and the oldest of the others goes.
    while (this.#bytes > this.#maxBytes) {
      const [oldest, slot] = this.#map.entries().next().value as [string, Slot];
      if (slot.used || oldest === key) {
        slot.used = false;
        this.#map.delete(oldest);
        this.#map.set(oldest, slot);
      } else this.delete(oldest);
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
