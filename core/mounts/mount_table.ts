/**
 * The mount table: "<path>/" → engine instance with its own storage view
 * (`logical/<uuid>/`). Resolution is longest-prefix over the mounted paths. The table itself is
 * stored through the barrier at `core/mounts`.
 */
import { BadRequest, Conflict, ServiceUnavailable } from "../../lib/errors.ts";
import { randomBase62, uuid } from "../../lib/crypto.ts";
import { Mutex } from "../../lib/mutex.ts";
import { type Engine, readJSON, writeJSON } from "../../engines/sdk.ts";
import { ENGINES } from "../../engines/registry.ts";
import type { Barrier, BarrierView } from "../barrier/barrier.ts";
import { compilePaths } from "../router/match.ts";
import type { CompiledPath, CorePathSpec } from "../router/types.ts";
import { log } from "../log.ts";
import { SYSTEM_MAX_TTL } from "../token/token_store.ts";

export interface MountEntry {
  path: string;
  type: string;
  description: string;
  uuid: string;
  accessor: string;
  options: Record<string, string> | null;
  config: MountConfig;
  local: boolean;
  seal_wrap: boolean;
}

/**
 * A mount's config as stored in the table. The TTLs are seconds (0: the system's). The optional
 * keys are Vault mount settings that SecretHub stores and reports (sys/mounts, the tune read) but
 * does not act on: clients such as Terraform's vault_mount read them back and would otherwise see
 * drift. A key is absent while unset, as in Vault's reads, and entries stored before these
 * existed load as they are.
 */
export interface MountConfig {
  default_lease_ttl: number;
  max_lease_ttl: number;
  listing_visibility?: ListingVisibility;
  audit_non_hmac_request_keys?: string[];
  audit_non_hmac_response_keys?: string[];
  passthrough_request_headers?: string[];
  allowed_response_headers?: string[];
}

/** Vault's values; "" (the default) is stored as no key. */
export type ListingVisibility = "unauth" | "hidden";

/** The stored-only settings of MountConfig, as enable and tune take them. */
export interface MountSettings {
  /** "" clears it. */
  listing_visibility?: ListingVisibility | "";
  /** An empty list clears one. */
  audit_non_hmac_request_keys?: string[];
  audit_non_hmac_response_keys?: string[];
  passthrough_request_headers?: string[];
  allowed_response_headers?: string[];
}

const SETTING_KEYS = [
  "listing_visibility",
  "audit_non_hmac_request_keys",
  "audit_non_hmac_response_keys",
  "passthrough_request_headers",
  "allowed_response_headers",
] as const satisfies readonly (keyof MountSettings & keyof MountConfig)[];

/** `config` with the settings given in `patch` applied: an empty value removes its key. */
function withSettings(config: MountConfig, patch: MountSettings): MountConfig {
  const out: MountConfig = { ...config };
  for (const k of SETTING_KEYS) {
    const val = patch[k];
    if (val === undefined) continue;
    if (val.length === 0) delete out[k];
    else (out as unknown as Record<string, unknown>)[k] = Array.isArray(val) ? [...val] : val;
  }
  return out;
}

export interface ResolvedMount {
  entry: MountEntry;
  table: CompiledPath[];
  /** Path inside the mount. */
  rest: string;
}

const MOUNTS_KEY = "core/mounts";
/**
 * Prefixes no secrets engine may be mounted at or under. Vault's protected mounts (audit/,
 * auth/, sys/, cubbyhole/, identity/), and secrets/: /v1/secrets/… is SecretHub's short route
 * to KV v2 at secret/, so a mount there could be enabled but never reached.
 */
const RESERVED: readonly string[] = [
  "audit/",
  "auth/",
  "sys/",
  "cubbyhole/",
  "identity/",
  "secrets/",
];

/**
 * Why a secrets engine cannot be mounted at `path` (with its trailing "/"), or null. Every way
 * of putting a mount at a path (enable; a remount, should one be added) asks this.
 */
export function reservedMountPath(path: string): string | null {
  const r = RESERVED.find((p) => path.startsWith(p));
  if (r === undefined) return null;
  return r === "secrets/"
    ? `cannot mount "${path}": path is reserved (/v1/secrets/ is the short route to KV at secret/)`
    : `cannot mount "${path}": path is reserved`;
}

/** The KV versions this server can mount: only the versioned engine (v2) exists. */
export const KV_VERSIONS: readonly string[] = ["2"];

const KV_V1_UNSUPPORTED = 'KV version 1 is not supported; mount kv with options.version "2"';

/**
 * "kv-v2", and "kv" with no version, mount KV v2 (options.version "2"). KV v1 ("kv-v1", or
 * "kv" with options.version "1") is not implemented, and any other version is unknown: both
 * are refused rather than silently mounted as v2.
 *
 * @throws BadRequest for KV v1 or a version other than "2".
 */
export function normalizeKvType(
  type: string,
  options: Record<string, string> | null,
): { type: string; options: Record<string, string> | null } {
  // Vault: the type names the version and overrides options.version.
  if (type === "kv-v2") return { type: "kv", options: { ...options, version: "2" } };
  if (type === "kv-v1") throw new BadRequest(KV_V1_UNSUPPORTED);
  if (type !== "kv") return { type, options };
  const version = options?.version;
  if (version === "1") throw new BadRequest(KV_V1_UNSUPPORTED);
  if (version !== undefined && version !== "" && !KV_VERSIONS.includes(version)) {
    throw new BadRequest(unsupportedKvVersion(version));
  }
  return { type: "kv", options: { ...options, version: "2" } };
}

function unsupportedKvVersion(version: string): string {
  return `unsupported KV version ${JSON.stringify(version)}; supported: ${
    KV_VERSIONS.map((x) => JSON.stringify(x)).join(", ")
  } (KV version 1 is not supported)`;
}

/**
 * Vault's checks on a mount's lease TTLs (seconds, 0 = the system's): the default may not
 * exceed the mount's max, nor, without a mount max, the system max.
 *
 * @throws BadRequest when the default is larger than the max that applies.
 */
export function checkLeaseTtls(defaultTtl: number, maxTtl: number, systemMax: number): void {
  if (maxTtl !== 0 && defaultTtl > maxTtl) {
    throw new BadRequest(
      `default lease TTL (${defaultTtl}s) cannot be larger than max lease TTL (${maxTtl}s)`,
    );
  }
  if (maxTtl === 0 && defaultTtl > systemMax) {
    throw new BadRequest(
      `default lease TTL (${defaultTtl}s) cannot be larger than the system max lease TTL (${systemMax}s)`,
    );
  }
}

export class MountTable {
  readonly #barrier: Barrier;
  readonly #now: () => number;
  #entries: MountEntry[] = [];
  #tables = new Map<string, CompiledPath[]>();
  /** Live engine instances by mount path: their `secrets` serve leases, `close` ends them. */
  /** Live engines by mount uuid: looked up on every request to a user mount. */
  #engines = new Map<string, Engine>();
  #builtins = new Map<string, { entry: MountEntry; table: CompiledPath[] }>();
  /**
   * Builtins under a reserved nested prefix ("pki/app/"): a user mount above them ("pki/") may
   * coexist, and longest-prefix resolution keeps their paths for the builtin.
   */
  #nested = new Set<string>();
  /** Routes owned by another table (auth methods under auth/), resolved like builtins. */
  #attached = new Map<string, { entry: MountEntry; table: CompiledPath[] }>();
  #sorted: string[] = [];
  /** User mounts being removed (by uuid): new requests are refused while their leases go. */
  #closing = new Set<string>();
  /** Handlers running (or still running past their deadline) per user mount uuid. */
  #inflight = new Map<string, number>();
  #drainWaiters = new Map<string, Set<() => void>>();
  /**
   * Enable, disable and tune each read the table, store a new one and then install it: run
   * together, the last store won and undid the others (mounts lost, a removed mount back with
   * no engine behind it). They take turns, as under Vault's mount lock.
   */
  readonly #changes = new Mutex();

  constructor(barrier: Barrier, now: () => number = Date.now) {
    this.#barrier = barrier;
    this.#now = now;
  }

  addBuiltin(
    path: string,
    type: string,
    specs: CorePathSpec[],
    description: string,
    opts: { nested?: boolean } = {},
  ): void {
    if (opts.nested) this.#nested.add(path);
    this.#builtins.set(path, {
      entry: {
        path,
        type,
        description,
        uuid: uuid(),
        accessor: `${type}_${randomBase62(8).toLowerCase()}`,
        options: null,
        config: { default_lease_ttl: 0, max_lease_ttl: 0 },
        local: false,
        seal_wrap: false,
      },
      table: compilePaths(specs),
    });
    this.#resort();
  }

  /** Loads (or, on first unseal, creates) the persisted table and instantiates its engines. */
  async load(): Promise<void> {
    let entries = await readJSON<MountEntry[]>(this.#barrier, MOUNTS_KEY);
    if (!entries) {
      entries = [this.#newEntry("secret/", "kv", "key/value secret storage", { version: "2" })];
      await writeJSON(this.#barrier, MOUNTS_KEY, entries);
    }
    this.#entries = entries;
    this.#tables.clear();
    for (const e of entries) {
      // Enabled before its path was reserved: kept (its data stays, and it can be unmounted),
      // but requests cannot reach it.
      if (e.path.startsWith("secrets/")) {
        log.warn("a mount under secrets/ cannot be reached (/v1/secrets/ is the short route)", {
          mount: e.path,
        });
      }
      this.#instantiate(e);
    }
    this.#resort();
  }

  /** Forgets the mounted engines (on seal) and closes them; a failing close is only logged. */
  async unload(): Promise<void> {
    const engines = this.#entries.flatMap((e) => {
      const engine = this.#engines.get(e.uuid);
      return engine ? [[e.path, engine] as const] : [];
    });
    this.#entries = [];
    this.#tables.clear();
    this.#engines.clear();
    this.#resort();
    await Promise.all(engines.map(([path, engine]) => closeEngine(path, engine)));
  }

  /** The live engine of the user mount with this uuid (null for builtins or gone mounts). */
  engineFor(mountUuid: string): Engine | null {
    return this.#engines.get(mountUuid) ?? null;
  }

  /** True while an unmount of this mount is under way. */
  isClosing(mountUuid: string): boolean {
    return this.#closing.has(mountUuid);
  }

  /**
   * Counts a handler running on a user mount until the returned release is called, so an
   * unmount can wait for the credentials it may still return. 503 once the mount is closing
   * (or gone: the request resolved it before an unmount finished).
   */
  hold(mountUuid: string): () => void {
    if (this.#closing.has(mountUuid) || !this.engineFor(mountUuid)) {
      throw new ServiceUnavailable("mount is being removed");
    }
    this.#inflight.set(mountUuid, (this.#inflight.get(mountUuid) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.#inflight.get(mountUuid) ?? 1) - 1;
      if (n > 0) {
        this.#inflight.set(mountUuid, n);
        return;
      }
      this.#inflight.delete(mountUuid);
      for (const w of this.#drainWaiters.get(mountUuid) ?? []) w();
    };
  }

  /**
   * Marks the mount closing (new requests get 503), then waits up to `waitMs` for its running
   * handlers. False when they did not finish: the mark is lifted again and nothing changed.
   * Vault's unmount taints the route the same way before it revokes the mount's leases.
   */
  async beginClose(mountUuid: string, waitMs: number): Promise<boolean> {
    if (this.#closing.has(mountUuid)) throw new ServiceUnavailable("mount is being removed");
    this.#closing.add(mountUuid);
    if (!this.#inflight.get(mountUuid)) return true;
    let waiters = this.#drainWaiters.get(mountUuid);
    if (!waiters) this.#drainWaiters.set(mountUuid, waiters = new Set());
    let done!: () => void;
    const drained = new Promise<void>((r) => done = r);
    waiters.add(done);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((r) => timer = setTimeout(() => r(false), waitMs));
    try {
      const ok = await Promise.race([drained.then(() => true), timedOut]);
      if (!ok) this.#closing.delete(mountUuid);
      return ok;
    } finally {
      clearTimeout(timer);
      waiters.delete(done);
      if (waiters.size === 0) this.#drainWaiters.delete(mountUuid);
    }
  }

  /** Lifts the closing mark (the unmount failed, or it finished). */
  endClose(mountUuid: string): void {
    this.#closing.delete(mountUuid);
  }

  #newEntry(
    path: string,
    type: string,
    description: string,
    options: Record<string, string> | null,
  ): MountEntry {
    return {
      path,
      type,
      description,
      uuid: uuid(),
      accessor: `${type}_${randomBase62(8).toLowerCase()}`,
      options,
      config: { default_lease_ttl: 0, max_lease_ttl: 0 },
      local: false,
      seal_wrap: false,
    };
  }

  #instantiate(e: MountEntry): void {
    const factory = ENGINES[e.type];
    if (!factory) throw new Error(`unknown engine type in mount table: ${e.type}`);
    const engine = factory({
      storage: this.#barrier.view(`logical/${e.uuid}/`),
      mount: { path: e.path, uuid: e.uuid, type: e.type, options: e.options ?? {} },
      now: this.#now,
      // Tune replaces the entry, so look the live one up by uuid rather than keep `e`.
      mountTtls: () => {
        const c = (this.#entries.find((x) => x.uuid === e.uuid) ?? e).config;
        return {
          defaultTtl: c.default_lease_ttl || SYSTEM_MAX_TTL,
          maxTtl: c.max_lease_ttl || SYSTEM_MAX_TTL,
        };
      },
    });
    this.#tables.set(e.path, compilePaths(engine.paths as CorePathSpec[]));
    this.#engines.set(e.uuid, engine);
  }

  #resort(): void {
    this.#sorted = [
      ...this.#builtins.keys(),
      ...this.#attached.keys(),
      ...this.#entries.map((e) => e.path),
    ]
      .sort((a, b) => b.length - a.length);
  }

  resolve(path: string): ResolvedMount | null {
    const withSlash = path.endsWith("/") ? path : path + "/";
    for (const p of this.#sorted) {
      if (path.startsWith(p) || withSlash === p) {
        const b = this.#builtins.get(p) ?? this.#attached.get(p);
        const entry = b?.entry ?? this.#entries.find((e) => e.path === p)!;
        const table = b?.table ?? this.#tables.get(p)!;
        return { entry, table, rest: path.length >= p.length ? path.slice(p.length) : "" };
      }
    }
    return null;
  }

  /** Routes `path` (e.g. "auth/approle/") to a path table owned elsewhere. */
  attach(path: string, entry: MountEntry, specs: CorePathSpec[]): void {
    this.#attached.set(path, { entry, table: compilePaths(specs) });
    this.#resort();
  }

  detach(path: string): void {
    this.#attached.delete(path);
    this.#resort();
  }

  /** True when `path` is a prefix of, or is prefixed by, any routed path. */
  overlaps(path: string): string | null {
    return this.#sorted.find((p) => p.startsWith(path) || path.startsWith(p)) ?? null;
  }

  list(): MountEntry[] {
    return [
      ...[...this.#builtins.values()].map((b) => b.entry).filter((e) =>
        !e.path.startsWith("auth/")
      ),
      ...this.#entries,
    ];
  }

  get(path: string): MountEntry | undefined {
    return this.#entries.find((e) => e.path === path) ?? this.#builtins.get(path)?.entry;
  }

  enable(
    path: string,
    type: string,
    description: string,
    options: Record<string, string> | null,
    config: EnableConfig,
  ): Promise<void> {
    return this.#changes.run(() => this.#enable(path, type, description, options, config));
  }

  async #enable(
    path: string,
    type: string,
    description: string,
    options: Record<string, string> | null,
    config: EnableConfig,
  ): Promise<void> {
    const norm = normalizeKvType(type, options);
    if (!ENGINES[norm.type]) throw new BadRequest(`plugin not found in the catalog: ${type}`);
    const reserved = reservedMountPath(path);
    if (reserved) throw new BadRequest(reserved);
    for (const p of this.#sorted) {
      const above = p.startsWith(path) && p !== path;
      if ((above && !this.#nested.has(p)) || path.startsWith(p)) {
        throw new Conflict(`path is already in use at ${p}`);
      }
    }
    const ttls = {
      default_lease_ttl: config.default_lease_ttl ?? 0,
      max_lease_ttl: config.max_lease_ttl ?? 0,
    };
    checkLeaseTtls(ttls.default_lease_ttl, ttls.max_lease_ttl, SYSTEM_MAX_TTL);
    const e = this.#newEntry(path, norm.type, description, norm.options);
    e.config = withSettings(ttls, config);
    const next = [...this.#entries, e];
    await writeJSON(this.#barrier, MOUNTS_KEY, next);
    this.#entries = next;
    this.#instantiate(e);
    this.#resort();
  }

  async disable(path: string): Promise<void> {
    const closing = await this.#changes.run(() => this.#disable(path));
    // Outside the lock: an engine's close may wait on its own connections.
    if (closing) await closeEngine(path, closing);
  }

  /** Removes the mount and its data; returns its engine, to be closed. */
  async #disable(path: string): Promise<Engine | undefined> {
    const e = this.#entries.find((x) => x.path === path);
    if (!e) {
      if (this.#builtins.has(path)) throw new BadRequest(`cannot unmount "${path}"`);
      return undefined;
    }
    const next = this.#entries.filter((x) => x !== e);
    const view = this.#barrier.view(`logical/${e.uuid}/`) as BarrierView;
    const keys = await view.allKeys();
    await this.#barrier.transaction([
      ...keys.map((k) => ({ op: "delete" as const, key: `logical/${e.uuid}/${k}` })),
      {
        op: "put",
        key: MOUNTS_KEY,
        value: new TextEncoder().encode(JSON.stringify(next)),
      },
    ]);
    this.#entries = next;
    this.#tables.delete(path);
    const engine = this.#engines.get(e.uuid);
    this.#engines.delete(e.uuid);
    this.#resort();
    return engine;
  }

  /**
   * Vault's tune: a TTL or description left out keeps its value; the resulting TTLs must pass
   * checkLeaseTtls. `options` are merged into the mount's (an empty value removes a key), except
   * `version`: a KV mount's version cannot change (KV v1 does not exist here, and "2" is what it
   * already is, a no-op), and other mounts have none. The stored-only settings (MountSettings)
   * replace the mount's when given; an empty one clears it.
   *
   * @throws BadRequest for an unknown or built-in mount, bad TTLs or a version change; nothing is
   * stored then.
   */
  tune(path: string, patch: TunePatch): Promise<void> {
    return this.#changes.run(() => this.#tune(path, patch));
  }

  async #tune(path: string, patch: TunePatch): Promise<void> {
    const e = this.#entries.find((x) => x.path === path);
    if (!e) {
      // Vault's wording: built-ins (cubbyhole/, identity/…) are its untunable mounts.
      if (this.#builtins.has(path)) throw new BadRequest(`cannot tune "${path}"`);
      throw new BadRequest(`tune of path "${path}" failed: no mount entry found`);
    }
    const config = withSettings({
      ...e.config,
      default_lease_ttl: patch.default_lease_ttl ?? e.config.default_lease_ttl,
      max_lease_ttl: patch.max_lease_ttl ?? e.config.max_lease_ttl,
    }, patch);
    checkLeaseTtls(config.default_lease_ttl, config.max_lease_ttl, SYSTEM_MAX_TTL);
    let options = e.options;
    if (patch.options) {
      if ("version" in patch.options) checkTunedVersion(e, patch.options.version!);
      const merged: Record<string, string> = { ...e.options };
      for (const [k, val] of Object.entries(patch.options)) {
        if (val === "" && k !== "version") delete merged[k];
        else merged[k] = val;
      }
      options = e.options === null && Object.keys(merged).length === 0 ? null : merged;
    }
    const updated: MountEntry = {
      ...e,
      description: patch.description ?? e.description,
      config,
      options,
    };
    const next = this.#entries.map((x) => x === e ? updated : x);
    await writeJSON(this.#barrier, MOUNTS_KEY, next);
    this.#entries = next;
  }
}

/** What enable takes as `config`: TTLs left out are the system's. */
export interface EnableConfig extends MountSettings {
  default_lease_ttl?: number | undefined;
  max_lease_ttl?: number | undefined;
}

interface TunePatch extends MountSettings {
  description?: string;
  default_lease_ttl?: number;
  max_lease_ttl?: number;
  options?: Record<string, string> | null;
}

/** options.version on tune: only the version a KV mount already has (a no-op). */
function checkTunedVersion(e: MountEntry, version: string): void {
  if (e.type !== "kv") {
    throw new BadRequest(`options.version applies only to kv mounts, not to "${e.type}"`);
  }
  const current = e.options?.version ?? "2";
  if (version === current) return;
  if (version === "1") {
    throw new BadRequest(
      `cannot change the KV version of "${e.path}" from ${current} to 1: KV version 1 is not supported`,
    );
  }
  if (!KV_VERSIONS.includes(version)) throw new BadRequest(unsupportedKvVersion(version));
  throw new BadRequest(
    `cannot change the KV version of "${e.path}" from ${current} to ${version}`,
  );
}

async function closeEngine(path: string, engine: Engine): Promise<void> {
  try {
    await engine.close?.();
  } catch (e) {
    // The mount is gone either way; a pool that did not close cleanly is not the caller's error.
    log.warn("engine close failed", { mount: path, error_type: e instanceof Error ? e.name : "" });
  }
}
