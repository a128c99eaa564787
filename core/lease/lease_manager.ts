/**
 * Leases for dynamic secrets (Vault's expiration manager). A lease is registered when an
 * engine's response carries `secret`; it can be looked up, renewed (the engine first, then the
 * record) and revoked (the engine first, then the record). One timer, armed for the earliest
 * due lease, revokes what expires; a failed engine revoke keeps the lease and is retried with
 * exponential backoff. A lease that must go (expired, revoke asked for, token revoked) has its
 * expiry brought forward to "now" in storage, so a restart picks the revocation up again.
 *
 * One instance lives per unseal: built and `start()`ed from storage on unseal, `stop()`ped on
 * seal.
 *
 * Logs name an error's type only, never its message: an engine's or the storage's message can
 * quote data (see core/http/errors.ts).
 */
import { BadRequest, HttpError, InternalError } from "../../lib/errors.ts";
import { randomBase62 } from "../../lib/crypto.ts";
import { formatDuration } from "../../lib/duration.ts";
import type { Engine, EngineResponse, LeaseInfo, StorageView } from "../../engines/sdk.ts";
import { SYSTEM_MAX_TTL } from "../token/token_store.ts";
import { log } from "../log.ts";
import { DueQueue } from "./due_queue.ts";
import { type LeaseEntry, leaseInfo, LeaseStore } from "./lease_store.ts";

export type { LeaseEntry } from "./lease_store.ts";

export type LeaseSecret = NonNullable<EngineResponse["secret"]>;

/** What register() needs of the mount that answered. */
export interface LeaseMount {
  path: string;
  uuid: string;
  config: { default_lease_ttl: number; max_lease_ttl: number };
}

export interface LeaseManagerOptions {
  /** A barrier view (encrypted), e.g. `barrier.view("sys/expire/")`. */
  storage: StorageView;
  /** The live engine of a mount; null once the mount is gone. */
  engineFor(mountUuid: string): Engine | null;
  now(): number;
  /** Called after a revoke has been committed. Must not throw. */
  onRevoked?(leaseId: string): void;
  /**
   * Whether the token with this accessor still exists. A lease stored after its token was
   * revoked (the revoke ran while the request did) is expired at once.
   */
  tokenExists?(accessor: string): Promise<boolean>;
  /**
   * When the token with this accessor expires: Unix ms, 0 = never, null = gone (revoked or
   * already expired). Given, it replaces tokenExists, and a lease is also looked at when its
   * token expires, so the credentials a token created go when it does (Vault revokes a token at
   * its expiry, and its leases with it) rather than at the next tidy.
   */
  tokenExpiry?(accessor: string): Promise<number | null>;
  /** First retry delay after a failed engine revoke (doubles per attempt). */
  retryBaseMs?: number;
  /** Longest retry delay. */
  retryMaxMs?: number;
}

export interface RenewResult {
  entry: LeaseEntry;
  warnings: string[];
}

/** Leases revoked concurrently by one sweep. */
const SWEEP_BATCH = 8;
/** setTimeout's limit; a later lease is re-armed when this fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A revoke that keeps failing logs its first attempts, then every LOG_EVERY-th. */
const LOG_FIRST = 5;
const LOG_EVERY = 10;

/** A lease id is a storage path: no empty, "." or ".." segments and no control characters. */
export function validLeasePath(id: string, allowTrailingSlash = false): boolean {
  if (id.length === 0 || id.length > 1024) return false;
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(id)) return false;
  const segs = id.split("/");
  if (allowTrailingSlash && segs.length > 1 && segs[segs.length - 1] === "") segs.pop();
  return segs.every((s) => s !== "" && s !== "." && s !== "..");
}

/** Effective TTL and max TTL in seconds (Vault's CalculateTTL for a new secret). */
export function leaseTtls(
  secret: Pick<LeaseSecret, "ttl" | "maxTtl">,
  config: LeaseMount["config"],
): { ttl: number; max: number } {
  const secs = (x: number) => Number.isFinite(x) && x > 0 ? Math.floor(x) : 0;
  const mountMax = Math.min(secs(config.max_lease_ttl) || SYSTEM_MAX_TTL, SYSTEM_MAX_TTL);
  const max = secs(secret.maxTtl) ? Math.min(secs(secret.maxTtl), mountMax) : mountMax;
  const ttl = secs(secret.ttl) || secs(config.default_lease_ttl) || SYSTEM_MAX_TTL;
  return { ttl: Math.max(1, Math.min(ttl, max)), max: Math.max(1, max) };
}

/** The earlier of a lease's expiry and its token's (0 = the token never expires). */
function earliest(leaseExpire: number, tokenExpire: number | null): number {
  return tokenExpire && tokenExpire < leaseExpire ? tokenExpire : leaseExpire;
}

/** What a log line may say of an error: its class, never its message. */
export function errorType(e: unknown): string {
  return e instanceof Error ? e.name : "non-error thrown";
}

/**
 * The LeaseInfo an engine's revoke needs for a secret that never got a lease (its request timed
 * out, failed or lost its mount): the engine reads `internal`; the id only has to be unique.
 */
export function unleasedInfo(
  mount: Pick<LeaseMount, "path">,
  path: string,
  secret: LeaseSecret,
  now: number,
): LeaseInfo {
  const p = path.replace(/^\/+|\/+$/g, "");
  return {
    leaseId: `${p ? `${mount.path}${p}/` : mount.path}unleased-${randomBase62(24)}`,
    path: p,
    internal: secret.internal,
    issueTime: now,
    expireTime: now,
    maxExpireTime: now,
  };
}

/**
 * Revokes, through its engine, a secret that has no lease and so nothing else would ever
 * revoke. Best effort: logs the outcome (never the secret) and never throws.
 */
export async function revokeUnleased(o: {
  engine: Engine | null;
  mount: Pick<LeaseMount, "path">;
  path: string;
  secret: LeaseSecret;
  now: number;
  /** Why there is no lease, for the log. */
  reason: string;
}): Promise<boolean> {
  const fields = { mount: o.mount.path, reason: o.reason };
  if (!o.engine?.secrets) {
    log.error("credentials without a lease cannot be revoked: the engine is gone", fields);
    return false;
  }
  try {
    await o.engine.secrets.revoke(unleasedInfo(o.mount, o.path, o.secret, o.now));
    log.warn("revoked credentials that could not get a lease", fields);
    return true;
  } catch (e) {
    log.error("could not revoke credentials that could not get a lease", {
      ...fields,
      error_type: errorType(e),
    });
    return false;
  }
}

export class LeaseManager {
  readonly #store: LeaseStore;
  readonly #engineFor: (uuid: string) => Engine | null;
  readonly #now: () => number;
  readonly #onRevoked: (id: string) => void;
  readonly #tokenExists: ((accessor: string) => Promise<boolean>) | null;
  readonly #tokenExpiry: ((accessor: string) => Promise<number | null>) | null;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  /** When each known lease is next looked at: its expiry, or its next revoke attempt. */
  #due = new Map<string, number>();
  #queue = new DueQueue();
  #attempts = new Map<string, number>();
  #locks = new Map<string, Promise<unknown>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #sweeping: Promise<void> | null = null;
  #stopped = false;

  constructor(o: LeaseManagerOptions) {
    this.#store = new LeaseStore(o.storage);
    this.#engineFor = o.engineFor;
    this.#now = o.now;
    this.#onRevoked = o.onRevoked ?? (() => {});
    const expiry = o.tokenExpiry;
    this.#tokenExpiry = expiry ?? null;
    this.#tokenExists = expiry ? async (a) => await expiry(a) !== null : o.tokenExists ?? null;
    this.#retryBaseMs = o.retryBaseMs ?? 1_000;
    this.#retryMaxMs = o.retryMaxMs ?? 10 * 60_000;
  }

  /** Loads every stored lease into the schedule; expired ones are revoked right away. */
  async start(): Promise<void> {
    await this.#store.open();
    for (const id of await this.#store.ids()) {
      const e = await this.#store.get(id);
      if (e) this.#track(e.id, await this.#dueAt(e));
    }
    this.#arm();
  }

  /** Stops the timer; resolves when a sweep in progress has finished. */
  stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#sweeping ?? Promise.resolve();
  }

  /** Number of leases known (stored and not yet revoked). */
  get count(): number {
    return this.#due.size;
  }

  /**
   * Records a lease for a secret an engine just produced. If the record cannot be stored the
   * secret is revoked at once: nothing else would ever remove it.
   */
  async register(o: {
    mount: LeaseMount;
    path: string;
    secret: LeaseSecret;
    tokenAccessor: string;
  }): Promise<LeaseEntry> {
    const engine = this.#engineFor(o.mount.uuid);
    if (!engine?.secrets) {
      throw new InternalError(
        "internal error",
        new Error(`the engine at "${o.mount.path}" returned a leased secret without secrets`),
      );
    }
    const { ttl, max } = leaseTtls(o.secret, o.mount.config);
    const now = this.#now();
    const path = o.path.replace(/^\/+|\/+$/g, "");
    const prefix = path ? `${o.mount.path}${path}/` : o.mount.path;
    const e: LeaseEntry = {
      id: prefix + randomBase62(24),
      mountUuid: o.mount.uuid,
      mountPath: o.mount.path,
      path,
      internal: o.secret.internal,
      issueTime: now,
      expireTime: now + ttl * 1000,
      maxExpireTime: now + max * 1000,
      lastRenewal: null,
      renewable: o.secret.renewable,
      ttl,
      tokenAccessor: o.tokenAccessor,
    };
    try {
      await this.#store.put(e, true);
    } catch (err) {
      await engine.secrets.revoke(leaseInfo(e)).catch((re) =>
        log.error("could not revoke a secret whose lease failed to register", {
          mount: o.mount.path,
          error_type: errorType(re),
        })
      );
      throw err;
    }
    this.#track(e.id, await this.#dueAt(e));
    this.#arm();
    await this.#expireIfTokenGone(e);
    return e;
  }

  /**
   * A token revoke that ran while the request did found no lease to expire (it was not stored
   * yet). Checked after the store: a revoke committed later finds the lease in the token index.
   */
  async #expireIfTokenGone(e: LeaseEntry): Promise<void> {
    if (!e.tokenAccessor || !this.#tokenExists) return;
    let gone: boolean;
    try {
      gone = !await this.#tokenExists(e.tokenAccessor);
    } catch (err) {
      // Tidy finds the lease later if its token really is gone.
      log.warn("could not check the token of a new lease", { error_type: errorType(err) });
      return;
    }
    if (!gone) return;
    try {
      await this.#expireNow(e.id);
    } catch (err) {
      log.warn("could not mark the lease of a revoked token expired", {
        lease_id: e.id,
        error_type: errorType(err),
      });
    }
    this.#track(e.id, this.#now());
    this.#arm();
  }

  /** The stored lease; 400 "invalid lease" when unknown (Vault's answer). */
  async lookup(id: string): Promise<LeaseEntry> {
    const e = validLeasePath(id) ? await this.#store.get(id) : null;
    if (!e) throw new BadRequest("invalid lease");
    return e;
  }

  /** Immediate children (ids and folders) under `prefix`. */
  list(prefix: string): Promise<string[]> {
    return this.#store.list(prefix);
  }

  /**
   * Extends to now + `increment` (or the TTL granted at issue), capped at the lease's max. The
   * engine renews first; the record is written only if that succeeded.
   */
  renew(id: string, increment?: number): Promise<RenewResult> {
    if (!validLeasePath(id)) return Promise.reject(new BadRequest("lease not found"));
    return this.#locked(id, async () => {
      const e = await this.#store.get(id);
      if (!e) throw new BadRequest("lease not found");
      if (!e.renewable) throw new BadRequest("lease is not renewable");
      const now = this.#now();
      if (e.expireTime <= now) throw new BadRequest("lease expired");
      const tokenExpire = await this.#tokenExpireOf(e);
      if (tokenExpire === null || (tokenExpire > 0 && tokenExpire <= now)) {
        // Its token is gone: the lease is revoked with it (Vault has expired it by now, and
        // answers a renewal of it "lease expired").
        await this.#store.put({ ...e, expireTime: now }, false);
        this.#track(id, now);
        this.#arm();
        throw new BadRequest("lease expired");
      }
      const want = increment && increment > 0 ? increment : e.ttl;
      let expire = now + want * 1000;
      const warnings: string[] = [];
      if (expire > e.maxExpireTime) {
        expire = e.maxExpireTime;
        const maxTtl = Math.floor((e.maxExpireTime - e.issueTime) / 1000);
        warnings.push(
          `TTL of "${formatDuration(want)}" exceeded the effective max_ttl of "${
            formatDuration(maxTtl)
          }"; TTL value is capped accordingly`,
        );
      }
      const engine = this.#engineFor(e.mountUuid);
      if (!engine?.secrets) throw new InternalError("internal error", new Error("mount is gone"));
      await engine.secrets.renew?.(leaseInfo(e), expire);
      const next: LeaseEntry = { ...e, expireTime: expire, lastRenewal: now };
      await this.#store.put(next, false);
      this.#track(id, earliest(expire, tokenExpire));
      this.#arm();
      return { entry: next, warnings };
    });
  }

  /**
   * Revokes now: the engine's revoke, then the record. Unknown ids are a no-op (false). When
   * the engine fails the lease is kept, marked expired and retried in the background, and the
   * error is thrown. `force` deletes the record without asking the engine.
   */
  async revoke(id: string, o: { force?: boolean } = {}): Promise<boolean> {
    if (!validLeasePath(id)) return false;
    try {
      return await this.#revokeNow(id, { force: o.force ?? false, onlyIfExpired: false });
    } catch (err) {
      await this.#expireNow(id).catch(() => {});
      this.#retryLater(id, err);
      if (err instanceof HttpError) throw err;
      throw new InternalError("failed to revoke lease", err);
    }
  }

  /** Revokes the lease ids under `prefix`; a prefix that is itself a lease id revokes it. */
  async revokePrefix(prefix: string, o: { force?: boolean } = {}): Promise<number> {
    let p = prefix;
    if (!p.endsWith("/")) {
      if (validLeasePath(p) && await this.#store.get(p)) return await this.revoke(p, o) ? 1 : 0;
      p += "/";
    }
    const ids = await this.#store.ids(p);
    let failed = 0;
    let first: unknown = null;
    let n = 0;
    for (const id of ids) {
      try {
        if (await this.revoke(id, o)) n++;
      } catch (err) {
        failed++;
        first ??= err;
      }
    }
    if (failed) {
      throw new InternalError(
        `failed to revoke ${failed} of ${ids.length} leases under "${p}"; they are retried`,
        first,
      );
    }
    return n;
  }

  /**
   * For revoked tokens: every lease they created is marked expired, and the timer revokes it
   * (Vault does the same, so a token revoke does not wait on every backend). Never throws.
   */
  async revokeByTokens(accessors: string[]): Promise<void> {
    for (const acc of accessors) {
      if (!acc) continue;
      try {
        for (const id of await this.#store.byToken(acc)) {
          await this.#expireNow(id);
          if (this.#due.has(id)) this.#track(id, this.#now());
        }
      } catch (err) {
        log.warn("could not schedule the leases of a revoked token", {
          error_type: errorType(err),
        });
      }
    }
    this.#arm();
  }

  /**
   * Drops token index entries whose lease is gone, and revokes leases whose token no longer
   * exists (missed by a crash between the token revoke and the lease update).
   */
  async tidy(tokenExists: (accessor: string) => Promise<boolean>): Promise<{
    dangling: number;
    orphaned: number;
  }> {
    const dangling = await this.#store.danglingIndex();
    if (dangling.length) await this.#store.deleteKeys(dangling);
    let orphaned = 0;
    for (const id of [...this.#due.keys()]) {
      const e = await this.#store.get(id);
      if (e?.tokenAccessor && e.expireTime > this.#now() && !await tokenExists(e.tokenAccessor)) {
        await this.#expireNow(id);
        this.#track(id, this.#now());
        orphaned++;
      }
    }
    this.#arm();
    return { dangling: dangling.length, orphaned };
  }

  /**
   * When its token expires (see tokenExpiry), 0 when it never does or cannot be told (no
   * token, no tokenExpiry, or the lookup failed: tidy finds it then), null when it is gone.
   */
  async #tokenExpireOf(e: LeaseEntry): Promise<number | null> {
    if (!e.tokenAccessor || !this.#tokenExpiry) return 0;
    try {
      return await this.#tokenExpiry(e.tokenAccessor);
    } catch (err) {
      log.warn("could not look up the token of a lease", { error_type: errorType(err) });
      return 0;
    }
  }

  /** When the lease is next looked at: its expiry, or its token's if that comes first. */
  async #dueAt(e: LeaseEntry): Promise<number> {
    const t = await this.#tokenExpireOf(e);
    return t === null ? this.#now() : earliest(e.expireTime, t);
  }

  async #revokeNow(
    id: string,
    o: { force: boolean; onlyIfExpired: boolean },
  ): Promise<boolean> {
    return await this.#locked(id, async () => {
      const e = await this.#store.get(id);
      if (!e) {
        this.#forget(id);
        return false;
      }
      if (o.onlyIfExpired && e.expireTime > this.#now()) {
        // Due at its token's expiry, or renewed between the timer firing and this lock. A token
        // that is gone takes the lease with it; one that was renewed is looked at again then.
        const now = this.#now();
        const tokenExpire = await this.#tokenExpireOf(e);
        if (tokenExpire !== null && (tokenExpire === 0 || tokenExpire > now)) {
          this.#track(id, earliest(e.expireTime, tokenExpire));
          return false;
        }
      }
      if (!o.force) {
        const engine = this.#engineFor(e.mountUuid);
        // Deleting the record would forget a credential that may still work: keep the lease
        // (retried) until its mount is back or an operator uses revoke-force.
        if (!engine?.secrets) {
          throw new InternalError(
            "the lease's mount is gone; revoke-force removes the lease",
            new Error("no engine for the lease's mount"),
          );
        }
        await engine.secrets.revoke(leaseInfo(e));
      }
      await this.#store.delete(e);
      this.#forget(id);
      this.#onRevoked(id);
      return true;
    });
  }

  /** Brings a lease's stored expiry forward to now (renewals are then refused). */
  #expireNow(id: string): Promise<void> {
    return this.#locked(id, async () => {
      const e = await this.#store.get(id);
      const now = this.#now();
      if (e && e.expireTime > now) await this.#store.put({ ...e, expireTime: now }, false);
    });
  }

  #retryLater(id: string, err: unknown): void {
    if (!this.#due.has(id)) return;
    const n = (this.#attempts.get(id) ?? 0) + 1;
    this.#attempts.set(id, n);
    const delay = Math.min(this.#retryBaseMs * 2 ** Math.min(n - 1, 30), this.#retryMaxMs);
    if (n <= LOG_FIRST || n % LOG_EVERY === 0) {
      log.warn("lease revocation failed; retrying", {
        lease_id: id,
        attempt: n,
        retry_in_ms: delay,
        error_type: errorType(err),
      });
    }
    this.#track(id, this.#now() + delay);
    this.#arm();
  }

  #track(id: string, at: number): void {
    this.#due.set(id, at);
    this.#queue.push({ at, id });
    // Renewals leave stale heap entries behind; compact before they dominate.
    if (this.#queue.size > 2 * this.#due.size + 1024) {
      this.#queue.rebuild([...this.#due].map(([i, a]) => ({ id: i, at: a })));
    }
  }

  #forget(id: string): void {
    this.#due.delete(id);
    this.#attempts.delete(id);
  }

  /** The earliest live entry, dropping stale ones on the way. */
  #peek(): { at: number; id: string } | undefined {
    for (;;) {
      const top = this.#queue.peek();
      if (!top || this.#due.get(top.id) === top.at) return top;
      this.#queue.pop();
    }
  }

  #arm(): void {
    if (this.#stopped || this.#sweeping) return;
    const next = this.#peek();
    if (!next) return;
    const now = this.#now();
    // Keep the armed timer if it comes first, unless its time has passed without it firing (an
    // injected clock that jumped): then re-arm at once.
    if (this.#timer !== undefined && this.#timerAt <= next.at && this.#timerAt > now) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = next.at;
    const delay = Math.min(Math.max(0, next.at - now), MAX_TIMER_MS);
    const timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#sweeping = this.#sweep().finally(() => {
        this.#sweeping = null;
        this.#arm();
      });
    }, delay);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  async #sweep(): Promise<void> {
    while (!this.#stopped) {
      const batch: string[] = [];
      const now = this.#now();
      while (batch.length < SWEEP_BATCH) {
        const top = this.#peek();
        if (!top || top.at > now) break;
        this.#queue.pop();
        batch.push(top.id);
      }
      if (batch.length === 0) return;
      await Promise.all(batch.map(async (id) => {
        try {
          await this.#revokeNow(id, { force: false, onlyIfExpired: true });
        } catch (err) {
          if (!this.#stopped) this.#retryLater(id, err);
        }
      }));
    }
  }

  /** Serialises work on one lease (renew vs revoke vs the timer). */
  #locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(fn);
    this.#locks.set(id, run);
    run.finally(() => {
      if (this.#locks.get(id) === run) this.#locks.delete(id);
    }).catch(() => {});
    return run;
  }
}
