/** What every database path handler shares: storage, the connection pools, a lock and the clock. */
import { Pools } from "./postgres.ts";
import { DatabaseStore } from "./store.ts";
import { type MountTtls, Mutex, type StorageView } from "../sdk.ts";

/** Vault's system default and max lease TTL (768h): off any mount nothing else sets one. */
const SYSTEM_TTL = 768 * 3600;
const UNMOUNTED: MountTtls = { defaultTtl: SYSTEM_TTL, maxTtl: SYSTEM_TTL };

export interface DatabaseBackend {
  store: DatabaseStore;
  pools: Pools;
  lock: Mutex;
  now(): number;
  /** The mount's current default and max lease TTL (seconds), as core's leases use them. */
  mountTtls(): MountTtls;
}

export function newBackend(
  storage: StorageView,
  now: () => number,
  mountTtls: () => MountTtls = () => UNMOUNTED,
): DatabaseBackend {
  return {
    store: new DatabaseStore(storage),
    pools: new Pools(),
    lock: new Mutex(),
    now,
    mountTtls,
  };
}
