/**
 * Decrypted values of hot keys, in memory only (nothing here ever reaches disk), so a repeated
 * read skips the AES-GCM open, the largest share of a cached KV read.
 *
 * An entry remembers the exact stored blob it was decrypted from, and a lookup must present the
 * blob storage returns right now: physical storage hands back the same array object for an
 * unchanged value and a new one after any committed write (through the barrier or not), so a
 * stale plaintext can never be served, whatever the interleaving of reads and writes. Writes
 * through the barrier also drop their keys, so replaced plaintext does not linger.
 *
 * Bounded LRU by bytes; callers get copies (some zero what they are given, e.g. the audit key),
 * and {@link PlaintextCache.wipe} zeroes every buffer it holds when the barrier seals.
 */
interface Entry {
  blob: Uint8Array;
  plain: Uint8Array;
  /** The value parsed as JSON and deep-frozen, once some reader asked for it (see shared()). */
  shared?: unknown;
  /** Bytes counted for `shared`: an estimate, as JS objects have no size to ask for. */
  sharedBytes: number;
}

/** Parsed JSON takes a few times the memory of its text; this much per byte is budgeted. */
const PARSED_BYTES_PER_BYTE = 3;

export class PlaintextCache {
  #map = new Map<string, Entry>();
  #bytes = 0;
  readonly #maxBytes: number;
  readonly #maxEntry: number;

  /** `maxBytes` 0 disables the cache. Values above 1/64 of it are never kept. */
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
    this.#maxEntry = Math.floor(maxBytes / 64);
  }

  get size(): number {
    return this.#map.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** A copy of the plaintext of `blob` at `key`, if it is the blob the entry was made from. */
  get(key: string, blob: Uint8Array): Uint8Array | undefined {
    const e = this.#map.get(key);
    if (e === undefined) return undefined;
    if (e.blob !== blob) {
      this.delete(key);
      return undefined;
    }
    // Re-insert to mark as most recently used (a Map keeps insertion order).
    this.#map.delete(key);
    this.#map.set(key, e);
    return e.plain.slice();
  }

  /**
   * The parsed, frozen value kept for `blob` at `key`, if any. It is not copied: it is frozen,
   * so every reader of an unchanged stored value shares one object.
   */
  shared(key: string, blob: Uint8Array): unknown {
    const e = this.#map.get(key);
    return e !== undefined && e.blob === blob ? e.shared : undefined;
  }

  /** Attaches the parsed value to the entry for `blob` (a no-op when that entry is not kept). */
  setShared(key: string, blob: Uint8Array, value: unknown): void {
    const e = this.#map.get(key);
    if (e === undefined || e.blob !== blob || e.shared !== undefined) return;
    e.shared = value;
    e.sharedBytes = e.plain.length * PARSED_BYTES_PER_BYTE;
    this.#bytes += e.sharedBytes;
    this.#evict();
  }

  /** Keeps a copy of `plain`, the decryption of `blob` at `key`. */
  set(key: string, blob: Uint8Array, plain: Uint8Array): void {
    if (plain.length > this.#maxEntry) return;
    this.delete(key);
    this.#map.set(key, { blob, plain: plain.slice(), sharedBytes: 0 });
    this.#bytes += plain.length + key.length;
    this.#evict();
  }

  /** Drops least recently used entries until the budget holds. */
  #evict(): void {
    while (this.#bytes > this.#maxBytes) {
      this.delete(this.#map.keys().next().value as string);
    }
  }

  delete(key: string): void {
    const e = this.#map.get(key);
    if (e === undefined) return;
    this.#map.delete(key);
    this.#bytes -= e.plain.length + key.length + e.sharedBytes;
    e.plain.fill(0);
  }

  /** Zeroes and drops every plaintext (on seal). */
  wipe(): void {
    for (const e of this.#map.values()) e.plain.fill(0);
    this.#map.clear();
    this.#bytes = 0;
  }
}
