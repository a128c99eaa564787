/** What every database path handler shares: storage, the connection pools, a lock and the clock. */
import { Pools } from "./postgres.ts";
import { DatabaseStore } from "./store.ts";
import type { StorageView } from "../sdk.ts";

/**
 * Serialises the mount's read-modify-write sequences (config and role merges, root rotation) so
 * two of them never interleave. Credential reads do not take it.
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.then(() => {}, () => {});
    return result;
  }
}

export interface DatabaseBackend {
  store: DatabaseStore;
  pools: Pools;
  lock: Mutex;
  now(): number;
}

export function newBackend(storage: StorageView, now: () => number): DatabaseBackend {
  return { store: new DatabaseStore(storage), pools: new Pools(), lock: new Mutex(), now };
}
