/**
 * Lease records, stored through the barrier (the caller hands in a view on `sys/expire/`), so
 * the engine's `internal` state, times and the creating token's accessor are encrypted at rest.
 * Layout, as Vault's expiration manager:
 *   id/<lease id>                               → the LeaseEntry (JSON)
 *   by-token/<hmac(accessor)>/<sha256(id)>      → the lease id, to revoke a token's leases
 *   salt                                        → the index's HMAC key (random, behind the barrier)
 * Keys name the lease id in clear (it is a path, like a KV key). Storage keys are not encrypted
 * and accessors are handed out freely, so the accessor is keyed under a salt, as Vault salts its
 * index: with a plain hash, anyone holding an accessor could confirm it in a copied database.
 * Databases from before the salt hold `token/<sha256(accessor)>/…`; the first use moves them.
 */
import { sha256Hex } from "../../lib/crypto.ts";
import type { HmacSha256 } from "../../lib/sha256.ts";
import { SaltedHmac } from "../barrier/salted_hmac.ts";
import {
  type LeaseInfo,
  putJSONOp,
  readJSON,
  type StorageView,
  type WriteOp,
} from "../../engines/sdk.ts";

export interface LeaseEntry {
  id: string;
  mountUuid: string;
  /** Mount path at issue time ("database/"). */
  mountPath: string;
  /** Request path inside the mount ("creds/readonly"). */
  path: string;
  internal: Record<string, unknown>;
  /** Unix ms. */
  issueTime: number;
  expireTime: number;
  maxExpireTime: number;
  lastRenewal: number | null;
  renewable: boolean;
  /** Seconds granted at issue: what a renewal without an increment asks for again. */
  ttl: number;
  /** Accessor of the token that created it ("" when unauthenticated). */
  tokenAccessor: string;
}

const ID = "id/";
const TOKEN = "by-token/";
/** The unsalted index of databases from before the salt: moved on first use. */
const LEGACY_TOKEN = "token/";
const SALT = "salt";
const MIGRATE_CHUNK = 256;

export function leaseInfo(e: LeaseEntry): LeaseInfo {
  return {
    leaseId: e.id,
    path: e.path,
    internal: e.internal,
    issueTime: e.issueTime,
    expireTime: e.expireTime,
    maxExpireTime: e.maxExpireTime,
  };
}

function tokenKey(mac: HmacSha256, accessor: string): string {
  return `${TOKEN}${mac.hex(`lease-token\0${accessor}`)}/`;
}

export class LeaseStore {
  readonly #s: StorageView;
  readonly #mac: SaltedHmac;

  constructor(storage: StorageView) {
    this.#s = storage;
    this.#mac = new SaltedHmac(storage, SALT, async (mac) => {
      await this.#migrateLegacy(mac);
    });
  }

  /** The index key; loading it moves a legacy index first, so nothing reads it half-moved. */
  #indexMac(): Promise<HmacSha256> {
    return this.#mac.get();
  }

  /**
   * Rewrites each `token/<sha256(accessor)>/<sha256(id)>` entry under its salted name, reading
   * the accessor from the (encrypted) lease it points to, and deletes the old key in the same
   * transaction (256 entries at a time): a crash leaves every entry moved or still legacy, and
   * the next start finishes the move. Entries whose lease is gone are dropped.
   */
  async #migrateLegacy(mac: HmacSha256): Promise<number> {
    const keys: string[] = [];
    for (const t of await this.#s.list(LEGACY_TOKEN)) {
      if (!t.endsWith("/")) continue;
      for (const k of await this.#s.list(LEGACY_TOKEN + t)) {
        if (!k.endsWith("/")) keys.push(LEGACY_TOKEN + t + k);
      }
    }
    let moved = 0;
    for (let i = 0; i < keys.length; i += MIGRATE_CHUNK) {
      const ops: WriteOp[] = [];
      for (const key of keys.slice(i, i + MIGRATE_CHUNK)) {
        ops.push({ op: "delete", key });
        const id = await readJSON<unknown>(this.#s, key);
        const e = typeof id === "string" ? await this.get(id) : null;
        if (e?.tokenAccessor) {
          ops.push(putJSONOp(tokenKey(mac, e.tokenAccessor) + sha256Hex(e.id), e.id));
          moved++;
        }
      }
      await this.#s.batch(ops);
    }
    return moved;
  }

  /** Loads the index key (and moves a legacy index): at start, so no request pays for it. */
  async open(): Promise<void> {
    await this.#indexMac();
  }

  get(id: string): Promise<LeaseEntry | null> {
    return readJSON<LeaseEntry>(this.#s, ID + id);
  }

  /** Writes the record; a new lease also gets its token index entry, in the same batch. */
  async put(e: LeaseEntry, isNew: boolean): Promise<void> {
    const ops: WriteOp[] = [putJSONOp(ID + e.id, e)];
    if (isNew && e.tokenAccessor) {
      const mac = await this.#indexMac();
      ops.push(putJSONOp(tokenKey(mac, e.tokenAccessor) + sha256Hex(e.id), e.id));
    }
    await this.#s.batch(ops);
  }

  async delete(e: LeaseEntry): Promise<void> {
    const ops: WriteOp[] = [{ op: "delete", key: ID + e.id }];
    if (e.tokenAccessor) {
      const mac = await this.#indexMac();
      ops.push({ op: "delete", key: tokenKey(mac, e.tokenAccessor) + sha256Hex(e.id) });
    }
    await this.#s.batch(ops);
  }

  /** Immediate children of `prefix` (lease ids and folders), as Vault's lookup list shows them. */
  list(prefix: string): Promise<string[]> {
    return this.#s.list(ID + prefix);
  }

  /** Every lease id under `prefix` ("" = all), sorted. */
  async ids(prefix = ""): Promise<string[]> {
    const out: string[] = [];
    const walk = async (p: string): Promise<void> => {
      for (const k of await this.#s.list(ID + p)) {
        if (k.endsWith("/")) await walk(p + k);
        else out.push(p + k);
      }
    };
    await walk(prefix);
    return out.sort();
  }

  /** Ids of the leases a token created (index entries whose lease is gone are dropped). */
  async byToken(accessor: string): Promise<string[]> {
    const out: string[] = [];
    const base = tokenKey(await this.#indexMac(), accessor);
    for (const k of await this.#s.list(base)) {
      if (k.endsWith("/")) continue;
      const id = await readJSON<string>(this.#s, base + k);
      if (id !== null) out.push(id);
    }
    return out;
  }

  /** Token index entries whose lease no longer exists (left by a crash); for tidy. */
  async danglingIndex(): Promise<string[]> {
    await this.#indexMac();
    const out: string[] = [];
    for (const t of await this.#s.list(TOKEN)) {
      if (!t.endsWith("/")) continue;
      for (const k of await this.#s.list(TOKEN + t)) {
        const key = TOKEN + t + k;
        const id = await readJSON<string>(this.#s, key);
        if (id === null || !(await this.#s.get(ID + id))) out.push(key);
      }
    }
    return out;
  }

  deleteKeys(keys: string[]): Promise<void> {
    return this.#s.batch(keys.map((key) => ({ op: "delete", key })));
  }
}
