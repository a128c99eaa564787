/** What every database path handler shares: storage, the connection pools, a lock and the clock. */
import { Pools } from "./postgres.ts";
import { DatabaseStore } from "./store.ts";
import { Mutex, type StorageView } from "../sdk.ts";

export interface DatabaseBackend {
  store: DatabaseStore;
  pools: Pools;
  lock: Mutex;
  now(): number;
}

export function newBackend(storage: StorageView, now: () => number): DatabaseBackend {
  return { store: new DatabaseStore(storage), pools: new Pools(), lock: new Mutex(), now };
}
