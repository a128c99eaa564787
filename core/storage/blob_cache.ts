/**
 * A bounded LRU of stored (still encrypted) values, like Vault's physical cache. It is filled
 * on read and updated only after a commit succeeds, so it never shows an unacknowledged write.
 * Valid while this process is the only writer of the file (the embedded-storage deployment).
 */
export class BlobCache {
  #map = new Map<string, Uint8Array>();
  #bytes = 0;
  readonly #maxBytes: number;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get(key: string): Uint8Array | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  set(key: string, value: Uint8Array): void {
    if (this.#maxBytes <= 0 || value.length > this.#maxBytes / 16) return;
    this.delete(key);
    this.#map.set(key, value);
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
    const v = this.#map.get(key);
    if (v === undefined) return;
    this.#map.delete(key);
    this.#bytes -= v.length + key.length;
  }

  clear(): void {
    this.#map.clear();
    this.#bytes = 0;
  }
}
