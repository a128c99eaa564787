/**
 * Tokens, stored by SHA-256 hash (the clear token is returned once, at creation, and never
 * stored). Children are indexed under their parent so revoking a parent revokes its subtree.
 * Decoded entries are cached in memory; every change goes through this class, which keeps the
 * cache coherent in this single process.
 */
import { constantTimeEqual, randomBase62, sha256Hex } from "../../lib/crypto.ts";
import { BadRequest } from "../../lib/errors.ts";
import type { StorageView, WriteOp } from "../../engines/sdk.ts";
import { putJSONOp, readJSON } from "../../engines/sdk.ts";

/** The id a token is stored and cached under: its SHA-256, so the clear token is never kept. */
export function tokenId(token: string): string {
  return sha256Hex(token);
}

export const SYSTEM_MAX_TTL = 768 * 3600;

export interface TokenEntry {
  /** SHA-256 of the token. */
  id: string;
  accessor: string;
  policies: string[];
  parent: string;
  meta: Record<string, string> | null;
  display_name: string;
  num_uses: number;
  creation_time: number;
  creation_ttl: number;
  /** Unix ms; 0 = never. */
  expire_time: number;
  explicit_max_ttl: number;
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

export interface CreateOptions {
  id?: string;
  policies: string[];
  parent: TokenEntry | null;
  meta?: Record<string, string> | null;
  displayName?: string;
  numUses?: number;
  ttl?: number;
  explicitMaxTtl?: number;
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
const CACHE_MAX = 50_000;

export class TokenStore {
  readonly #s: StorageView;
  readonly #now: () => number;
  #cache = new Map<string, TokenEntry>();
  /**
   * Told the accessors of every token a revoke removed, after the removal committed (core uses
   * it to revoke the leases those tokens created). Must not throw.
   */
  onRevoked: ((accessors: string[]) => Promise<void>) | null = null;

  constructor(storage: StorageView, now: () => number = Date.now) {
    this.#s = storage;
    this.#now = now;
  }

  clearCache(): void {
    this.#cache.clear();
  }

  async create(o: CreateOptions): Promise<{ token: string; entry: TokenEntry }> {
    const token = o.id ?? `hvs.${randomBase62(24)}`;
    if (o.id !== undefined && !/^[A-Za-z0-9._-]{1,128}$/.test(o.id)) {
      throw new BadRequest("invalid token id");
    }
    const id = tokenId(token);
    if (o.id !== undefined && await this.#s.get(ID + id)) {
      throw new BadRequest("cannot create a token with a duplicate ID");
    }
    const now = this.#now();
    const isRoot = o.policies.includes("root");
    const explicitMax = o.explicitMaxTtl ?? 0;
    let ttl = o.ttl ?? 0;
    if (!isRoot || ttl > 0) {
      if (ttl === 0) ttl = SYSTEM_MAX_TTL;
      ttl = Math.min(ttl, SYSTEM_MAX_TTL);
      if (explicitMax > 0) ttl = Math.min(ttl, explicitMax);
    }
    const parent = o.noParent ? null : o.parent;
    // A child cannot outlive its parent.
    if (parent && parent.expire_time > 0) {
      const left = Math.floor((parent.expire_time - now) / 1000);
      if (ttl === 0 || ttl > left) ttl = Math.max(left, 0);
    }
    const entry: TokenEntry = {
      id,
      accessor: randomBase62(24),
      policies: [...new Set(o.policies)].sort(),
      parent: parent?.id ?? "",
      meta: o.meta && Object.keys(o.meta).length ? o.meta : null,
      display_name: o.displayName ?? "token",
      num_uses: o.numUses ?? 0,
      creation_time: Math.floor(now / 1000),
      creation_ttl: ttl,
      expire_time: ttl > 0 ? now + ttl * 1000 : 0,
      explicit_max_ttl: explicitMax,
      renewable: isRoot && ttl === 0 ? false : (o.renewable ?? true),
      orphan: !parent,
      path: o.path ?? "auth/token/create",
      type: "service",
    };
    if (o.boundCidrs?.length) entry.bound_cidrs = o.boundCidrs;
    if (o.source) entry.source = o.source;
    const ops: WriteOp[] = [
      putJSONOp(ID + id, entry),
      putJSONOp(ACC + entry.accessor, id),
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
      e = await readJSON<TokenEntry>(this.#s, ID + id);
      if (!e) return null;
      if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
      this.#cache.set(id, e);
    }
    return this.#live(e, id);
  }

  #live(e: TokenEntry, id: string): TokenEntry | null {
    // The map lookup keys on the hash; this compare keeps the final check constant-time anyway.
    if (!constantTimeEqual(e.id, id)) return null;
    if (e.expire_time > 0 && e.expire_time <= this.#now()) return null;
    return e;
  }

  async lookupByAccessor(accessor: string): Promise<TokenEntry | null> {
    if (!/^[A-Za-z0-9]{1,64}$/.test(accessor)) return null;
    const id = await readJSON<string>(this.#s, ACC + accessor);
    return id ? await this.lookupById(id) : null;
  }

  /** Spends one use of a limited-use token; at zero it is revoked after this request. */
  async use(e: TokenEntry): Promise<void> {
    if (e.num_uses <= 0) return;
    if (e.num_uses === 1) {
      await this.revoke(e);
      return;
    }
    const next = { ...e, num_uses: e.num_uses - 1 };
    await this.#s.batch([putJSONOp(ID + e.id, next)]);
    this.#cache.set(e.id, next);
  }

  /** Extends the TTL by `increment` (or the original TTL), never past explicit or system max. */
  async renew(e: TokenEntry, increment?: number): Promise<TokenEntry> {
    if (!e.renewable || e.expire_time === 0) throw new BadRequest("token is not renewable");
    const now = this.#now();
    let ttl = increment && increment > 0 ? increment : e.creation_ttl;
    const maxTtl = e.explicit_max_ttl > 0 ? e.explicit_max_ttl : SYSTEM_MAX_TTL;
    const maxExpire = e.creation_time * 1000 + maxTtl * 1000;
    ttl = Math.min(ttl, Math.floor((maxExpire - now) / 1000));
    if (ttl <= 0) throw new BadRequest("token has reached its maximum TTL and cannot be renewed");
    const next: TokenEntry = { ...e, expire_time: now + ttl * 1000, last_renewal_time: now };
    await this.#s.batch([putJSONOp(ID + e.id, next)]);
    this.#cache.set(e.id, next);
    return next;
  }

  /** Revokes the token and, recursively, all its children. */
  async revoke(e: TokenEntry | string): Promise<void> {
    const id = typeof e === "string" ? e : e.id;
    const ops: WriteOp[] = [];
    const accessors: string[] = [];
    await this.#collect(id, ops, accessors, 0);
    if (ops.length) await this.#s.batch(ops);
    if (accessors.length && this.onRevoked) await this.onRevoked(accessors);
  }

  async #collect(
    id: string,
    ops: WriteOp[],
    accessors: string[],
    depth: number,
  ): Promise<void> {
    if (depth > 1000) throw new Error("token tree too deep");
    const entry = this.#cache.get(id) ?? await readJSON<TokenEntry>(this.#s, ID + id);
    this.#cache.delete(id);
    for (const child of await this.#s.list(`${PARENT}${id}/`)) {
      if (child.endsWith("/")) continue;
      await this.#collect(child, ops, accessors, depth + 1);
      ops.push({ op: "delete", key: `${PARENT}${id}/${child}` });
    }
    if (!entry) return;
    accessors.push(entry.accessor);
    ops.push({ op: "delete", key: ID + id }, { op: "delete", key: ACC + entry.accessor });
    if (entry.parent) ops.push({ op: "delete", key: `${PARENT}${entry.parent}/${id}` });
    if (entry.source) ops.push({ op: "delete", key: `${SOURCE}${entry.source}/${id}` });
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
    return n;
  }

  /** Deletes expired tokens (and their subtrees); returns how many were removed. */
  async tidy(): Promise<number> {
    const now = this.#now();
    let n = 0;
    for (const acc of await this.#s.list(ACC)) {
      const id = await readJSON<string>(this.#s, ACC + acc);
      if (!id) continue;
      const e = await readJSON<TokenEntry>(this.#s, ID + id);
      if (e && e.expire_time > 0 && e.expire_time <= now) {
        await this.revoke(e);
        n++;
      }
    }
    return n;
  }

  async accessors(): Promise<string[]> {
    return (await this.#s.list(ACC)).filter((k) => !k.endsWith("/"));
  }

  /** Remaining seconds (0 = never expires). */
  ttlOf(e: TokenEntry): number {
    return e.expire_time === 0 ? 0 : Math.max(0, Math.ceil((e.expire_time - this.#now()) / 1000));
  }
}
