/**
 * Pass-through view of one AppRole mount's storage that counts writes. Every handler of the mount
 * writes through it, so "the epoch has not moved" means "nothing in this mount changed", which is
 * what lets the login cache (login_cache.ts) reuse what an earlier login read.
 */
import type { StorageView, WriteOp } from "../../../engines/sdk.ts";

export class WriteEpochView implements StorageView {
  readonly #inner: StorageView;
  #epoch = 0;

  constructor(inner: StorageView) {
    this.#inner = inner;
  }

  /**
   * Moves when a write starts and again when it settles, so a value read while a write was in
   * flight is never taken for current once that write lands.
   */
  get epoch(): number {
    return this.#epoch;
  }

  get(key: string): Promise<Uint8Array | null> {
    return this.#inner.get(key);
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.batch([{ op: "put", key, value }]);
  }

  delete(key: string): Promise<void> {
    return this.batch([{ op: "delete", key }]);
  }

  list(prefix: string): Promise<string[]> {
    return this.#inner.list(prefix);
  }

  async batch(ops: WriteOp[]): Promise<void> {
    this.#epoch++;
    try {
      await this.#inner.batch(ops);
    } finally {
      this.#epoch++;
    }
  }
}
