/**
 * Tokens, stored by SHA-256 hash (the clear token is returned once, at creation, and never
 * stored). Children are indexed under their parent so revoking a parent revokes its subtree.
 * The accessor index is keyed by an HMAC of the accessor under a random salt kept behind the
 * barrier (storage keys are not encrypted; accessors are handed out freely, so a plain hash
 * would let anyone holding one confirm it in a stolen database file).
 * Decoded entries are cached in memory; every change goes through this class, which keeps the
 * cache coherent in this single process.
 *
 * A token never outlives its parent (Vault revokes a token's subtree when it expires): a
 * non-orphan token's expire_time is never later than its parent's. Creation caps it, renewal
 * caps it at the parent's expiry, and a renewal that shortens a token shortens its descendants
 * with it, in one transaction. So when a token expires its whole subtree has expired too, and the
 * request path needs nothing but the token's own entry to refuse it. What relates a token to its
 * parent (creating a child, renewing, revoking) runs under one in-process lock, so no child is
 * created or renewed against a parent that a concurrent revoke or renewal has just changed.
 */
import { constantTimeEqual, randomBase62, sha256Hex } from "../../lib/crypto.ts";
import type { HmacSha256 } from "../../lib/sha256.ts";
import { BadRequest } from "../../lib/errors.ts";
import { sanitizePolicies } from "../../lib/fields.ts";
import { Mutex } from "../../lib/mutex.ts";
import { SaltedHmac } from "../barrier/salted_hmac.ts";
import { log } from "../log.ts";
import type { StorageView, WriteOp } from "../../engines/sdk.ts";
import { putJSONOp, readJSON, writeJSON } from "../../engines/sdk.ts";

/** The id a token is stored and cached under: its SHA-256, so the clear token is never kept. */
export function tokenId(token: string): string {
  return sha256Hex(token);
}

export const SYSTEM_MAX_TTL = 768 * 3600;

/**
 * num_uses of a token whose last use is being spent by a request in flight (Vault's
 * tokenRevocationPending): every lookup refuses it, and the request revokes it when it ends.
 */
export const LAST_USE_PENDING = -1;

/**
 * The path an agent link's token records (core/agents/hub.ts). The pipeline admits such a token
 * only on requests the hub relays for a link, so one read out of a link is no bearer token.
 */
export const LINK_TOKEN_PATH = "sys/agent/connect";

export interface TokenEntry {
  /** SHA-256 of the token. */
  id: string;
  accessor: string;
  policies: string[];
  parent: string;
  meta: Record<string, string> | null;
  display_name: string;
  /** Uses left (0 = unlimited); LAST_USE_PENDING while a request spends the last one. */
  num_uses: number;
  creation_time: number;
  creation_ttl: number;
  /** Unix ms; 0 = never. */
  expire_time: number;
  explicit_max_ttl: number;
  /**
   * Seconds; the cap a login token got from its role and auth mount (Vault keeps it with the
   * lease, not as explicit_max_ttl): renewals never go past creation + this. Absent = none.
   */
  max_ttl?: number;
  renewable: boolean;
  orphan: boolean;
  path: string;
  type: "service";
  last_renewal_time?: number;
  /** CIDRs the token may be used from; empty or absent = anywhere. */
  bound_cidrs?: string[];
  /** "<auth mount uuid>/<role>" for login tokens, so deleting the role revokes them. */
  source?: string;
}

/**
 * A login token's renewal limits from its auth method, as they are now (see core/auth/types.ts
 * LoginRenewHook), with the auth mount's defaults already applied. Seconds.
 */
export interface LoginRenewal {
  /** The TTL when no increment is asked. */
  ttl: number;
  /** Replaces the max_ttl the token was issued with. */
  maxTtl: number;
}

export interface CreateOptions {
  id?: string;
  policies: string[];
  parent: TokenEntry | null;
  meta?: Record<string, string> | null;
  displayName?: string;
  numUses?: number;
  ttl?: number;
  explicitMaxTtl?: number;
  /** Seconds; like explicitMaxTtl, but not shown as explicit_max_ttl (see TokenEntry.max_ttl). */
  maxTtl?: number;
  renewable?: boolean;
  noParent?: boolean;
  path?: string;
  boundCidrs?: string[];
  source?: string;
}

const ID = "id/";
const ACC = "accessor/";
const PARENT = "parent/";
const SOURCE = "source/";
/** The accessor index's HMAC key (random, 32 bytes, base64), stored behind the barrier. */
const SALT = "salt";
/** An accessor index key: 64 hex digits. Legacy keys were the accessor itself (24 base62). */
const KEYED = /^[0-9a-f]{64}$/;
const MIGRATE_CHUNK = 256;
/**
 * Set once every stored non-orphan token has been capped at its parent's expiry (databases from
 * before renewals were capped can hold children that outlive their parents).
 */
const TREE_CAPPED = "tree-capped";
const CACHE_MAX = 50_000;

/** The value under `accessor/<hmac>`: the accessor itself is only in the (encrypted) value. */
interface AccessorRecord {
  id: string;
  accessor: string;
}

export class TokenStore {
  readonly #s: StorageView;
  readonly #now: () => number;
  #cache = new Map<string, TokenEntry>();
  /** The accessor index's key; loading it first moves a legacy (unkeyed) index. */
  readonly #mac: SaltedHmac;
  /** Ids whose delete is queued in a batch that has not committed yet (count per id). */
  #deleting = new Map<string, number>();
  /** Bumped when a revoke's deletes are queued and when they commit (see #read). */
  #revokeEpoch = 0;
  /**
   * Held by whatever relates a token's life to its parent's: creating a child, renewing, revoking
   * (see the file comment). None of these is on the request path of other routes.
   */
  readonly #tree = new Mutex();
  /**
   * Told the accessors of every token a revoke removed, after the removal committed (core uses
   * it to revoke the leases those tokens created). Must not throw.
   */
  onRevoked: ((accessors: string[]) => Promise<void>) | null = null;
  /**
   * Told each source revokeSource() was called for, after its tokens went: what a login source
   * enrolled beyond tokens (agents) must not outlive it either. Must not throw.
   */
  onSourceRevoked: ((source: string) => Promise<void>) | null = null;

  constructor(storage: StorageView, now: () => number = Date.now) {
    this.#s = storage;
    this.#now = now;
    this.#mac = new SaltedHmac(storage, SALT, async (mac) => {
      const moved = await this.#migrateAccessors(mac);
      if (moved > 0) log.info("moved the token accessor index to keyed names", { entries: moved });
    });
  }

  /** Drops every cached entry and the accessor index key (on seal). */
  clearCache(): void {
    this.#cache.clear();
    this.#mac.wipe();
  }

  /**
   * Loads the accessor index key (creating it on first use) and moves accessor index entries
   * written before the index was keyed. Core runs it at unseal; every accessor operation waits
   * for it, so nothing ever reads the index half-migrated. Also caps, once per database, tokens
   * stored before renewals were capped that outlive their parent.
   */
  async init(): Promise<void> {
    await this.#accessorMac();
    const revoked = await this.#tree.run(() => this.#capLegacyTrees());
    if (revoked.length && this.onRevoked) await this.onRevoked(revoked);
  }

  /**
   * Once per database: stored tokens that outlive an ancestor (renewed past it before renewals
   * were capped) are cut back to the ancestor's expiry, and non-orphans whose parent is gone are
   * revoked, so the invariant the request path relies on holds for old data too. Returns the
   * accessors of the revoked tokens.
   */
  async #capLegacyTrees(): Promise<string[]> {
    if (await this.#s.get(TREE_CAPPED)) return [];
    const all = new Map<string, TokenEntry>();
    for (const k of await this.#s.list(ID)) {
      if (k.endsWith("/")) continue;
      const e = await readJSON<TokenEntry>(this.#s, ID + k);
      if (e) all.set(k, e);
    }
    // The latest expiry each token may have: its own, or its parent's limit if that is earlier
    // (0 = never). Null for a token under a parent that is gone.
    const limit = new Map<string, number | null>();
    const limitOf = (e: TokenEntry, depth: number): number | null => {
      const known = limit.get(e.id);
      if (known !== undefined) return known;
      let l: number | null = e.expire_time;
      if (e.parent) {
        const p = all.get(e.parent);
        const pl = p && depth < 1000 ? limitOf(p, depth + 1) : null;
        if (pl === null) l = null;
        else if (pl > 0 && (l === 0 || l > pl)) l = pl;
      }
      limit.set(e.id, l);
      return l;
    };
    const capped: TokenEntry[] = [];
    const dangling: string[] = [];
    for (const e of all.values()) {
      const l = limitOf(e, 0);
      if (l === null) {
        if (!all.has(e.parent)) dangling.push(e.id); // revoking it takes its subtree
      } else if (l !== e.expire_time) capped.push({ ...e, expire_time: l });
    }
    for (let i = 0; i < capped.length; i += MIGRATE_CHUNK) {
      const chunk = capped.slice(i, i + MIGRATE_CHUNK);
      await this.#s.batch(chunk.map((e) => putJSONOp(ID + e.id, e)));
      for (const e of chunk) this.#cache.delete(e.id);
    }
    const accessors: string[] = [];
    for (const id of dangling) accessors.push(...await this.#revokeTree(id));
    await writeJSON(this.#s, TREE_CAPPED, 1);
    if (capped.length || dangling.length) {
      log.info("capped tokens that outlived their parent", {
        capped: capped.length,
        revoked: accessors.length,
      });
    }
    return accessors;
  }

  #accessorMac(): Promise<HmacSha256> {
    return this.#mac.get();
  }

  #accessorKey(mac: HmacSha256, accessor: string): string {
    return ACC + mac.hex(`accessor\0${accessor}`);
  }

  /**
   * Databases from before the keyed index hold `accessor/<accessor>` → token id. Each such entry
   * is rewritten under its keyed name and its old key deleted in the same transaction (entries
   * are moved in transactions of 256), so a crash leaves every entry either moved or still
   * legacy, and a second run finds nothing left to do. Returns how many were moved.
   */
  async #migrateAccessors(mac: HmacSha256): Promise<number> {
    const legacy = (await this.#s.list(ACC)).filter((k) => !k.endsWith("/") && !KEYED.test(k));
    let moved = 0;
    for (let i = 0; i < legacy.length; i += MIGRATE_CHUNK) {
      const ops: WriteOp[] = [];
      for (const accessor of legacy.slice(i, i + MIGRATE_CHUNK)) {
        const id = await readJSON<unknown>(this.#s, ACC + accessor);
        ops.push({ op: "delete", key: ACC + accessor });
        if (typeof id === "string" && id) {
          ops.push(putJSONOp(this.#accessorKey(mac, accessor), { id, accessor }));
          moved++;
        }
      }
      await this.#s.batch(ops);
    }
    return moved;
  }

  async create(o: CreateOptions): Promise<{ token: string; entry: TokenEntry }> {
    // As in Vault, an empty id is no id: the token is generated.
    const token = o.id || `hvs.${randomBase62(24)}`;
    if (o.id && !/^[A-Za-z0-9._-]{1,128}$/.test(o.id)) {
      throw new BadRequest("invalid token id");
    }
    const id = tokenId(token);
    const parent = o.noParent ? null : o.parent;
    if (!parent && !o.id) return await this.#insert(o, token, id, null);
    // Under the tree lock, against the parent as it is now: a revoke of it either saw this child
    // or has already removed it (then this is refused), and a renewal that shortened it is seen.
    // A chosen id is checked under it too: of concurrent creates of one id, the first commits
    // and the others find it (checked outside, all of them passed and the last write won).
    return await this.#tree.run(async () => {
      if (o.id && await this.#s.get(ID + id)) {
        throw new BadRequest("cannot create a token with a duplicate ID");
      }
      if (!parent) return await this.#insert(o, token, id, null);
      const cur = await this.lookupById(parent.id);
      if (!cur) throw new BadRequest("parent token has expired or been revoked");
      return await this.#insert(o, token, id, cur);
    });
  }

  async #insert(
    o: CreateOptions,
    token: string,
    id: string,
    parent: TokenEntry | null,
  ): Promise<{ token: string; entry: TokenEntry }> {
    const now = this.#now();
    // Names are case-insensitive and stored lowercased: "MyPol" on a token is the policy mypol.
    const policies = sanitizePolicies(o.policies);
    const isRoot = policies.includes("root");
    // Capped at the system max, as Vault caps it (token create warns about it).
    const explicitMax = Math.min(o.explicitMaxTtl ?? 0, SYSTEM_MAX_TTL);
    let ttl = o.ttl ?? 0;
    if (!isRoot || ttl > 0) {
      if (ttl === 0) ttl = SYSTEM_MAX_TTL;
      ttl = Math.min(ttl, SYSTEM_MAX_TTL);
      if (explicitMax > 0) ttl = Math.min(ttl, explicitMax);
      if (o.maxTtl && o.maxTtl > 0) ttl = Math.min(ttl, o.maxTtl);
    }
    // A root token without a ttl would never expire; explicit_max_ttl still binds it (Vault).
    if (ttl === 0 && explicitMax > 0) ttl = explicitMax;
    let expireTime = ttl > 0 ? now + ttl * 1000 : 0;
    // A child cannot outlive its parent: it expires at the latest when the parent does.
    if (parent && parent.expire_time > 0 && (expireTime === 0 || expireTime > parent.expire_time)) {
      expireTime = parent.expire_time;
      ttl = Math.max(1, Math.ceil((expireTime - now) / 1000));
    }
    const entry: TokenEntry = {
      id,
      accessor: randomBase62(24),
      policies,
      parent: parent?.id ?? "",
      meta: o.meta && Object.keys(o.meta).length ? o.meta : null,
      display_name: o.displayName ?? "token",
      num_uses: o.numUses ?? 0,
      creation_time: Math.floor(now / 1000),
      creation_ttl: ttl,
      expire_time: expireTime,
      explicit_max_ttl: explicitMax,
      renewable: isRoot && ttl === 0 ? false : (o.renewable ?? true),
      orphan: !parent,
      path: o.path ?? "auth/token/create",
      type: "service",
    };
    if (o.maxTtl && o.maxTtl > 0) entry.max_ttl = o.maxTtl;
    if (o.boundCidrs?.length) entry.bound_cidrs = o.boundCidrs;
    if (o.source) entry.source = o.source;
    const mac = await this.#accessorMac();
    const ops: WriteOp[] = [
      putJSONOp(ID + id, entry),
      putJSONOp(this.#accessorKey(mac, entry.accessor), { id, accessor: entry.accessor }),
    ];
    if (parent) ops.push(putJSONOp(`${PARENT}${parent.id}/${id}`, 1));
    if (o.source) ops.push(putJSONOp(`${SOURCE}${o.source}/${id}`, 1));
    await this.#s.batch(ops);
    return { token, entry };
  }

  /** The live entry for a clear token, or null if unknown, revoked or expired. */
  async lookup(token: string): Promise<TokenEntry | null> {
    if (!token) return null;
    return await this.lookupById(tokenId(token));
  }

  /**
   * lookupById() answered from memory without waiting, or undefined when the entry is not cached
   * (then call lookupById with the same id). The request path asks this first.
   */
  cachedById(id: string): TokenEntry | null | undefined {
    const e = this.#cache.get(id);
    return e === undefined ? undefined : this.#live(e, id);
  }

  async lookupById(id: string): Promise<TokenEntry | null> {
    let e: TokenEntry | null | undefined = this.#cache.get(id);
    if (!e) {
      e = await this.#read(id);
      if (!e) return null;
      // A change made while the read was out (a spent use) is newer than what was read.
      const cached = this.#cache.get(id);
      if (cached) e = cached;
      else {
        if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
        this.#cache.set(id, e);
      }
    }
    return this.#live(e, id);
  }

  /**
   * The stored entry, or null. A revoke deletes in a batch that commits later, and a read on the
   * request thread sees only committed data: a read that overlapped a revoke's queueing or
   * commit is repeated, and an id whose delete is queued reads as gone, so a revoked token is
   * never cached (or written back) again.
   */
  async #read(id: string): Promise<TokenEntry | null> {
    for (let tries = 0;; tries++) {
      const epoch = this.#revokeEpoch;
      const e = await readJSON<TokenEntry>(this.#s, ID + id);
      if (this.#deleting.has(id)) return null;
      // 16 overlaps in a row would need a revoke committing during every read; give up waiting.
      if (epoch === this.#revokeEpoch || tries >= 16) return e;
    }
  }

  #live(e: TokenEntry, id: string): TokenEntry | null {
    // The map lookup keys on the hash; this compare keeps the final check constant-time anyway.
    if (!constantTimeEqual(e.id, id)) return null;
    if (e.expire_time > 0 && e.expire_time <= this.#now()) return null;
    if (e.num_uses < 0) return null; // its last use is being spent
    return e;
  }

  async lookupByAccessor(accessor: string): Promise<TokenEntry | null> {
    if (!/^[A-Za-z0-9]{1,64}$/.test(accessor)) return null;
    const mac = await this.#accessorMac();
    const rec = await readJSON<AccessorRecord>(this.#s, this.#accessorKey(mac, accessor));
    if (!rec?.id) return null;
    const e = await this.lookupById(rec.id);
    return e && e.accessor === accessor ? e : null;
  }

  /**
   * Applies `change` to the token's current entry (the cached one, else a fresh read) and stores
   * the result; null when the token is gone or `change` refuses. The change is computed and
   * cached before anything is awaited, so two changes to one token never lose each other's
   * update, and a token a revoke has queued for deletion is never written back.
   */
  async #update(
    id: string,
    change: (cur: TokenEntry) => TokenEntry | null,
  ): Promise<TokenEntry | null> {
    let cur = this.#cache.get(id);
    if (!cur) {
      const stored = await this.#read(id);
      cur = this.#cache.get(id) ?? stored ?? undefined;
    }
    if (!cur || this.#deleting.has(id)) return null;
    const next = change(cur);
    if (!next) return null;
    this.#cache.set(id, next);
    try {
      await this.#s.batch([putJSONOp(ID + id, next)]);
    } catch (e) {
      // Not stored: the next lookup reads storage again.
      if (this.#cache.get(id) === next) this.#cache.delete(id);
      throw e;
    }
    return next;
  }

  /**
   * Spends one use of a limited-use token, as Vault's UseToken does when a request is admitted
   * (before its handler runs): returns the entry with num_uses one lower, or LAST_USE_PENDING
   * for the last use — such an entry is refused by every lookup, and the caller revokes it when
   * its request ends. The decrement is cached before anything is awaited, so concurrent
   * requests spend distinct uses. Null when the token is gone, expired or already spent.
   */
  async use(e: TokenEntry): Promise<TokenEntry | null> {
    if (e.num_uses === 0) return e;
    return await this.#update(e.id, (cur) => {
      if (cur.num_uses <= 0 || !this.#live(cur, e.id)) return null;
      return { ...cur, num_uses: cur.num_uses === 1 ? LAST_USE_PENDING : cur.num_uses - 1 };
    });
  }

  /**
   * Extends the TTL by `increment` (or the original TTL), never past explicit or system max, nor
   * past the parent's expiry (a child never outlives its parent). A renewal that brings the expiry
   * closer brings its descendants' closer with it (to no later than the token's), in the same
   * transaction. The entry as renewed: its TTL was cut short when `expire_time -
   * last_renewal_time` is less than asked. `login` (a login token whose auth method was asked)
   * replaces the original TTL and the max_ttl it was issued with.
   */
  async renew(e: TokenEntry, increment?: number, login?: LoginRenewal): Promise<TokenEntry> {
    const next = await this.#tree.run(() => this.#renew(e.id, increment, login));
    if (!next) throw new BadRequest("token not found");
    return next;
  }

  async #renew(id: string, increment?: number, login?: LoginRenewal): Promise<TokenEntry | null> {
    const stored = this.#cache.get(id) ?? await this.#read(id);
    if (!stored || this.#deleting.has(id)) return null;
    if (!stored.renewable || stored.expire_time === 0) {
      throw new BadRequest("token is not renewable");
    }
    const now = this.#now();
    let ttl = increment && increment > 0 ? increment : login ? login.ttl : stored.creation_ttl;
    // A token stored before explicit max TTLs were capped is held to the system max too.
    let maxTtl = stored.explicit_max_ttl > 0
      ? Math.min(stored.explicit_max_ttl, SYSTEM_MAX_TTL)
      : SYSTEM_MAX_TTL;
    const loginMax = login ? login.maxTtl : stored.max_ttl;
    if (loginMax && loginMax > 0) maxTtl = Math.min(maxTtl, loginMax);
    const maxExpire = stored.creation_time * 1000 + maxTtl * 1000;
    ttl = Math.min(ttl, Math.floor((maxExpire - now) / 1000));
    if (ttl <= 0) {
      throw new BadRequest("token has reached its maximum TTL and cannot be renewed");
    }
    // Expired (while the request was on its way): its subtree has expired with it for good.
    if (stored.expire_time <= now) return null;
    let expireTime = now + ttl * 1000;
    if (stored.parent) {
      // Only the tree lock (held) changes expiries, so the parent read now stays true until the
      // batch below. A parent that is gone or expired has taken this token's life with it.
      const parent = await this.lookupById(stored.parent);
      if (!parent) return null;
      if (parent.expire_time > 0) expireTime = Math.min(expireTime, parent.expire_time);
    }
    // Shorter than before: every descendant that would outlive it is cut back to it.
    const cuts = expireTime < stored.expire_time ? await this.#descendantsPast(id, expireTime) : [];
    // From here to the batch nothing is awaited: a use spent meanwhile is in the cache and kept.
    const cur = this.#cache.get(id) ?? stored;
    if (this.#deleting.has(id)) return null;
    const next: TokenEntry = { ...cur, expire_time: expireTime, last_renewal_time: now };
    // So that the cap holds for a later renewal that does not ask the auth method.
    if (login) next.max_ttl = login.maxTtl;
    const updated = [next];
    for (const c of cuts) {
      const d = this.#cache.get(c.id) ?? c;
      if (this.#deleting.has(c.id)) continue;
      updated.push({ ...d, expire_time: expireTime });
    }
    for (const u of updated) this.#cache.set(u.id, u);
    try {
      await this.#s.batch(updated.map((u) => putJSONOp(ID + u.id, u)));
    } catch (err) {
      // Not stored: the next lookup reads storage again.
      for (const u of updated) if (this.#cache.get(u.id) === u) this.#cache.delete(u.id);
      throw err;
    }
    return next;
  }

  /**
   * The descendants of `id` that expire after `limit` (or never). A token that does not has no
   * descendant that does, so its subtree is not walked.
   */
  async #descendantsPast(id: string, limit: number): Promise<TokenEntry[]> {
    const out: TokenEntry[] = [];
    const walk = async (pid: string, depth: number): Promise<void> => {
      if (depth > 1000) throw new Error("token tree too deep");
      for (const child of await this.#s.list(`${PARENT}${pid}/`)) {
        if (child.endsWith("/")) continue;
        const c = this.#cache.get(child) ?? await this.#read(child);
        if (!c || (c.expire_time !== 0 && c.expire_time <= limit)) continue;
        out.push(c);
        await walk(child, depth + 1);
      }
    };
    await walk(id, 0);
    return out;
  }

  /** Revokes the token and, recursively, all its children. */
  async revoke(e: TokenEntry | string): Promise<void> {
    const id = typeof e === "string" ? e : e.id;
    const accessors = await this.#tree.run(() => this.#revokeTree(id));
    if (accessors.length && this.onRevoked) await this.onRevoked(accessors);
  }

  /** revoke() under the tree lock (held); returns the removed tokens' accessors. */
  async #revokeTree(id: string): Promise<string[]> {
    const mac = await this.#accessorMac();
    const ops: WriteOp[] = [];
    const accessors: string[] = [];
    const ids: string[] = [];
    await this.#collect(id, mac, ops, accessors, ids, 0);
    await this.#commitDeletes(ops, ids);
    return accessors;
  }

  /**
   * Revokes the token but not its children (Vault's revoke-orphan): each child loses its parent
   * and becomes an orphan, and keeps working until its own expiry. One transaction.
   */
  async revokeOrphan(e: TokenEntry): Promise<void> {
    const accessor = await this.#tree.run(() => this.#revokeOrphan(e));
    if (accessor && this.onRevoked) await this.onRevoked([accessor]);
  }

  async #revokeOrphan(e: TokenEntry): Promise<string | null> {
    const mac = await this.#accessorMac();
    const stored = this.#cache.get(e.id) ?? await this.#read(e.id);
    if (!stored) return null;
    this.#cache.delete(e.id);
    const ops: WriteOp[] = [];
    const ids = [e.id];
    this.#deleteOps(stored, mac, ops);
    const children: { id: string; stored: TokenEntry | null }[] = [];
    for (const child of await this.#s.list(`${PARENT}${e.id}/`)) {
      if (child.endsWith("/")) continue;
      children.push({ id: child, stored: this.#cache.get(child) ?? await this.#read(child) });
      ops.push({ op: "delete", key: `${PARENT}${e.id}/${child}` });
    }
    // From here to the batch nothing is awaited: a use or renew of a child that landed while
    // the children were read is in the cache and is kept.
    const updated: TokenEntry[] = [];
    for (const c of children) {
      const cur = this.#cache.get(c.id) ?? c.stored;
      if (!cur || this.#deleting.has(c.id)) continue;
      const next: TokenEntry = { ...cur, parent: "", orphan: true };
      ops.push(putJSONOp(ID + c.id, next));
      updated.push(next);
    }
    for (const n of updated) this.#cache.set(n.id, n);
    try {
      await this.#commitDeletes(ops, ids);
    } catch (err) {
      for (const n of updated) if (this.#cache.get(n.id) === n) this.#cache.delete(n.id);
      throw err;
    }
    return stored.accessor;
  }

  /**
   * Queues the revoke's batch with its ids marked as being deleted (see #read), and unmarks them
   * once it has committed or failed.
   */
  async #commitDeletes(ops: WriteOp[], ids: string[]): Promise<void> {
    if (!ops.length) return;
    for (const id of ids) {
      this.#deleting.set(id, (this.#deleting.get(id) ?? 0) + 1);
      this.#cache.delete(id);
    }
    this.#revokeEpoch++;
    try {
      await this.#s.batch(ops);
    } finally {
      for (const id of ids) {
        const n = (this.#deleting.get(id) ?? 1) - 1;
        if (n > 0) this.#deleting.set(id, n);
        else this.#deleting.delete(id);
      }
      this.#revokeEpoch++;
    }
  }

  #deleteOps(entry: TokenEntry, mac: HmacSha256, ops: WriteOp[]): void {
    ops.push(
      { op: "delete", key: ID + entry.id },
      { op: "delete", key: this.#accessorKey(mac, entry.accessor) },
    );
    if (entry.parent) ops.push({ op: "delete", key: `${PARENT}${entry.parent}/${entry.id}` });
    if (entry.source) ops.push({ op: "delete", key: `${SOURCE}${entry.source}/${entry.id}` });
  }

  async #collect(
    id: string,
    mac: HmacSha256,
    ops: WriteOp[],
    accessors: string[],
    ids: string[],
    depth: number,
  ): Promise<void> {
    if (depth > 1000) throw new Error("token tree too deep");
    const entry = this.#cache.get(id) ?? await readJSON<TokenEntry>(this.#s, ID + id);
    this.#cache.delete(id);
    ids.push(id);
    for (const child of await this.#s.list(`${PARENT}${id}/`)) {
      if (child.endsWith("/")) continue;
      await this.#collect(child, mac, ops, accessors, ids, depth + 1);
      ops.push({ op: "delete", key: `${PARENT}${id}/${child}` });
    }
    if (!entry) return;
    accessors.push(entry.accessor);
    this.#deleteOps(entry, mac, ops);
  }

  /**
   * Revokes every token issued for `source` ("<mount uuid>/<role>"), or for a whole mount when
   * given "<mount uuid>" — a deleted role or a disabled auth mount leaves no live token behind.
   */
  async revokeSource(source: string): Promise<number> {
    let n = 0;
    const walk = async (prefix: string): Promise<void> => {
      for (const k of await this.#s.list(prefix)) {
        if (k.endsWith("/")) await walk(prefix + k);
        else {
          await this.revoke(k);
          // An index entry whose token is already gone would otherwise linger.
          await this.#s.delete(prefix + k);
          n++;
        }
      }
    };
    await walk(`${SOURCE}${source}/`);
    if (this.onSourceRevoked) await this.onSourceRevoked(source);
    return n;
  }

  /**
   * Deletes expired tokens (and their subtrees), tokens whose last use was spent by a request
   * that could not revoke them (sealed meanwhile), and index entries whose token is gone;
   * returns how many tokens were removed.
   */
  async tidy(): Promise<number> {
    await this.#accessorMac();
    const now = this.#now();
    let n = 0;
    for (const k of await this.#s.list(ACC)) {
      if (k.endsWith("/")) continue;
      const rec = await readJSON<AccessorRecord>(this.#s, ACC + k);
      if (!rec?.id) continue;
      const e = await readJSON<TokenEntry>(this.#s, ID + rec.id);
      if (!e) {
        // create and revoke write both keys in one batch: only damage leaves one alone.
        await this.#s.delete(ACC + k);
        continue;
      }
      if ((e.expire_time > 0 && e.expire_time <= now) || e.num_uses < 0) {
        await this.revoke(e);
        n++;
      }
    }
    return n;
  }

  /** Every token's accessor (LIST auth/token/accessors), read from the encrypted index values. */
  async accessors(): Promise<string[]> {
    await this.#accessorMac();
    const out: string[] = [];
    for (const k of await this.#s.list(ACC)) {
      if (k.endsWith("/")) continue;
      const rec = await readJSON<AccessorRecord>(this.#s, ACC + k);
      if (rec?.accessor) out.push(rec.accessor);
    }
    return out;
  }

  /** Remaining seconds (0 = never expires). */
  ttlOf(e: TokenEntry): number {
    return e.expire_time === 0 ? 0 : Math.max(0, Math.ceil((e.expire_time - this.#now()) / 1000));
  }
}
