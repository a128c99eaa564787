/**
 * Auth method mounts (`sys/auth`): each method is a path table routed at `auth/<path>/`, with
 * encrypted storage at `auth/<uuid>/`. The table is persisted at `core/auth-mounts`. Disabling a
 * mount revokes every token it issued and deletes its storage.
 */
import { BadRequest } from "../../lib/errors.ts";
import { randomBase62, uuid } from "../../lib/crypto.ts";
import { Mutex } from "../../lib/mutex.ts";
import { readJSON, writeJSON } from "../../engines/sdk.ts";
import type { Barrier, BarrierView } from "../barrier/barrier.ts";
import { checkLeaseTtls, type MountEntry, type MountTable } from "../mounts/mount_table.ts";
import { SYSTEM_MAX_TTL } from "../token/token_store.ts";
import {
  type AuthMethodContext,
  type AuthMethodFactory,
  type LoginGrant,
  type LoginLimiter,
  type LoginRecords,
  loginRecords,
} from "./types.ts";

const AUTH_MOUNTS_KEY = "core/auth-mounts";

/** A mount's lease TTLs in seconds; 0 (or left out) = the system's. */
export interface AuthTtls {
  default_lease_ttl?: number;
  max_lease_ttl?: number;
}

/** What sys/auth/<path>/tune may change; anything left out keeps its value. */
export interface AuthTunePatch extends AuthTtls {
  description?: string;
}

export interface AuthTableDeps {
  barrier: Barrier;
  mounts: MountTable;
  methods: Record<string, AuthMethodFactory>;
  limiter: LoginLimiter;
  now: () => number;
  issueToken(
    entry: MountEntry,
    grant: LoginGrant,
    remoteAddress: string,
  ): Promise<Record<string, unknown>>;
  revokeSource(source: string): Promise<number>;
}

export class AuthTable {
  readonly #d: AuthTableDeps;
  #entries: MountEntry[] = [];
  readonly #changes = new Mutex();

  constructor(deps: AuthTableDeps) {
    this.#d = deps;
  }

  async load(): Promise<void> {
    this.#entries = await readJSON<MountEntry[]>(this.#d.barrier, AUTH_MOUNTS_KEY) ?? [];
    for (const e of this.#entries) this.#attach(e);
  }

  unload(): void {
    for (const e of this.#entries) this.#d.mounts.detach(e.path);
    this.#entries = [];
  }

  list(): MountEntry[] {
    return this.#entries;
  }

  /**
   * The login records of auth mount `uuid` (a login source's first part): null when no such
   * mount is attached (gone, or detached while it is being disabled), `records` undefined when
   * its method keeps none.
   */
  loginRecords(uuid: string): { entry: MountEntry; records?: LoginRecords } | null {
    const entry = this.#entries.find((e) => e.uuid === uuid);
    const routed = entry ? this.#d.mounts.resolve(entry.path) : null;
    if (!entry || routed?.entry.uuid !== uuid) return null;
    for (const c of routed.table) {
      const records = loginRecords(c.spec);
      if (records) return { entry, records };
    }
    return { entry };
  }

  #attach(e: MountEntry): void {
    const factory = this.#d.methods[e.type];
    if (!factory) throw new Error(`unknown auth method type in auth table: ${e.type}`);
    const ctx: AuthMethodContext = {
      storage: this.#d.barrier.view(`auth/${e.uuid}/`),
      mount: { path: e.path, accessor: e.accessor, uuid: e.uuid, type: e.type },
      now: this.#d.now,
      // The entry as tuned now, not as attached: its TTLs apply to every login from then on.
      issueToken: (grant, remote) => this.#d.issueToken(this.#current(e), grant, remote),
      revokeRole: async (role) => {
        await this.#d.revokeSource(`${e.uuid}/${role}`);
      },
      limiter: this.#d.limiter,
    };
    this.#d.mounts.attach(e.path, e, factory(ctx).paths);
  }

  #current(e: MountEntry): MountEntry {
    return this.#entries.find((x) => x.uuid === e.uuid) ?? e;
  }

  /** Changes to the table take turns (see MountTable's), or the last store would undo others. */
  enable(path: string, type: string, description: string, ttls: AuthTtls = {}): Promise<void> {
    return this.#changes.run(() => this.#enable(path, type, description, ttls));
  }

  disable(path: string): Promise<void> {
    return this.#changes.run(() => this.#disable(path));
  }

  /**
   * Vault's auth tune: the mount's TTLs are what its login tokens get by default and may never
   * outlive (core's #issueLoginToken reads them from the entry's config).
   *
   * @throws BadRequest for an unknown mount or TTLs checkLeaseTtls refuses; nothing is stored.
   */
  tune(path: string, patch: AuthTunePatch = {}): Promise<void> {
    return this.#changes.run(() => this.#tune(path, patch));
  }

  async #enable(
    path: string,
    type: string,
    description: string,
    ttls: AuthTtls,
  ): Promise<void> {
    if (!this.#d.methods[type]) throw new BadRequest(`unknown auth method type "${type}"`);
    const full = `auth/${path}`;
    if (path === "token/") throw new BadRequest("path is already in use at auth/token/");
    const clash = this.#d.mounts.overlaps(full);
    if (clash) throw new BadRequest(`path is already in use at ${clash}`);
    const config = {
      default_lease_ttl: ttls.default_lease_ttl ?? 0,
      max_lease_ttl: ttls.max_lease_ttl ?? 0,
    };
    checkLeaseTtls(config.default_lease_ttl, config.max_lease_ttl, SYSTEM_MAX_TTL);
    const e: MountEntry = {
      path: full,
      type,
      description,
      uuid: uuid(),
      accessor: `auth_${type}_${randomBase62(8).toLowerCase()}`,
      options: null,
      config,
      local: false,
      seal_wrap: false,
    };
    const next = [...this.#entries, e];
    await writeJSON(this.#d.barrier, AUTH_MOUNTS_KEY, next);
    this.#entries = next;
    this.#attach(e);
  }

  async #disable(path: string): Promise<void> {
    const full = `auth/${path}`;
    const e = this.#entries.find((x) => x.path === full);
    if (!e) return;
    this.#d.mounts.detach(full);
    await this.#d.revokeSource(e.uuid);
    const view = this.#d.barrier.view(`auth/${e.uuid}/`) as BarrierView;
    const keys = await view.allKeys();
    const next = this.#entries.filter((x) => x !== e);
    await this.#d.barrier.transaction([
      ...keys.map((k) => ({ op: "delete" as const, key: `auth/${e.uuid}/${k}` })),
      { op: "put", key: AUTH_MOUNTS_KEY, value: new TextEncoder().encode(JSON.stringify(next)) },
    ]);
    this.#entries = next;
  }

  async #tune(path: string, patch: AuthTunePatch): Promise<void> {
    const full = `auth/${path}`;
    const e = this.#entries.find((x) => x.path === full);
    if (!e) throw new BadRequest(`no auth mount at "${full}"`);
    const config = {
      default_lease_ttl: patch.default_lease_ttl ?? e.config.default_lease_ttl,
      max_lease_ttl: patch.max_lease_ttl ?? e.config.max_lease_ttl,
    };
    checkLeaseTtls(config.default_lease_ttl, config.max_lease_ttl, SYSTEM_MAX_TTL);
    const updated: MountEntry = { ...e, description: patch.description ?? e.description, config };
    const next = this.#entries.map((x) => x === e ? updated : x);
    await writeJSON(this.#d.barrier, AUTH_MOUNTS_KEY, next);
    this.#entries = next;
  }
}
