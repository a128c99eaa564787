/** What every PKI path handler shares: storage, the cached CA and roles, the lock and the clock. */
import { BadRequest, MAX_DURATION_SECONDS, type MountTtls, Mutex } from "../sdk.ts";
import { CaCache } from "./ca.ts";
import { checkRoleName, type RoleRecord } from "./role.ts";
import { PkiStore } from "./store.ts";

/** Roles are read on every issuance; writes go through here, so the cache is never stale. */
export class RoleCache {
  readonly #store: PkiStore;
  readonly #roles = new Map<string, RoleRecord>();
  /** Bumped by every write, so a read that raced one does not cache what it saw before. */
  #generation = 0;
  readonly #writes = new Mutex();

  constructor(store: PkiStore) {
    this.#store = store;
  }

  async get(name: string): Promise<RoleRecord | null> {
    const hit = this.#roles.get(name);
    if (hit) return hit;
    const gen = this.#generation;
    const role = await this.#store.role(name);
    if (role && gen === this.#generation) this.#roles.set(name, role);
    return role;
  }

  async require(name: string): Promise<RoleRecord> {
    const role = await this.get(checkRoleName(name));
    if (!role) throw new BadRequest(`unknown role: ${name}`);
    return role;
  }

  /**
   * Read-modify-write under a write lock, so storage and cache end on the same last writer and
   * a PATCH never loses a concurrent change. `fn` returns the new role, or null to delete it.
   */
  update(
    name: string,
    fn: (current: RoleRecord | null) => RoleRecord | null,
  ): Promise<RoleRecord | null> {
    return this.#writes.run(async () => {
      const next = fn(await this.#store.role(name));
      this.#generation++;
      this.#roles.delete(name);
      if (next) await this.#store.putRole(name, next);
      else await this.#store.deleteRole(name);
      this.#generation++;
      if (next) this.#roles.set(name, next);
      return next;
    });
  }
}

export interface TidyStatus {
  state: string;
  time_started: string;
  time_finished: string;
  safety_buffer: number;
  tidy_cert_store: boolean;
  tidy_revoked_certs: boolean;
  cert_store_deleted_count: number;
  revoked_cert_deleted_count: number;
}

export interface PkiBackend {
  store: PkiStore;
  ca: CaCache;
  roles: RoleCache;
  lock: Mutex;
  now(): number;
  /** The mount's current default and max lease TTL (seconds): Vault's System() TTLs. */
  mountTtls(): MountTtls;
  tidyStatus: TidyStatus | null;
}

/** The system's default lease TTL (768h), where nothing else sets one. */
const SYSTEM_DEFAULT_TTL = 768 * 3600;

/**
 * Off any mount (core's in-process identity PKI) no tuned ceiling exists: lifetimes default to
 * the system's 768h and are bounded by roles, requests and the CA's own expiry only.
 */
const UNMOUNTED: MountTtls = { defaultTtl: SYSTEM_DEFAULT_TTL, maxTtl: MAX_DURATION_SECONDS };

export function newBackend(
  store: PkiStore,
  now: () => number,
  mountTtls: () => MountTtls = () => UNMOUNTED,
): PkiBackend {
  return {
    store,
    ca: new CaCache(store),
    roles: new RoleCache(store),
    lock: new Mutex(),
    now,
    mountTtls,
    tidyStatus: null,
  };
}
