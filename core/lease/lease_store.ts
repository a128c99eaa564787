/**
 * Lease records, stored through the barrier (the caller hands in a view on `sys/expire/`), so
 * the engine's `internal` state, times and the creating token's accessor are encrypted at rest.
 * Layout, as Vault's expiration manager:
 *   id/<lease id>                          → the LeaseEntry (JSON)
 *   token/<sha256(accessor)>/<sha256(id)>  → the lease id, to revoke a token's leases
 * Keys name the lease id in clear (it is a path, like a KV key); the accessor is hashed.
 */
import { sha256Hex } from "../../lib/crypto.ts";
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
const TOKEN = "token/";

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

function tokenKey(accessor: string): string {
  return `${TOKEN}${sha256Hex(accessor)}/`;
}

export class LeaseStore {
  readonly #s: StorageView;

  constructor(storage: StorageView) {
    this.#s = storage;
  }

  get(id: string): Promise<LeaseEntry | null> {
    return readJSON<LeaseEntry>(this.#s, ID + id);
  }

  /** Writes the record; a new lease also gets its token index entry, in the same batch. */
  put(e: LeaseEntry, isNew: boolean): Promise<void> {
    const ops: WriteOp[] = [putJSONOp(ID + e.id, e)];
    if (isNew && e.tokenAccessor) {
      ops.push(putJSONOp(tokenKey(e.tokenAccessor) + sha256Hex(e.id), e.id));
    }
    return this.#s.batch(ops);
  }

  delete(e: LeaseEntry): Promise<void> {
    const ops: WriteOp[] = [{ op: "delete", key: ID + e.id }];
    if (e.tokenAccessor) {
      ops.push({ op: "delete", key: tokenKey(e.tokenAccessor) + sha256Hex(e.id) });
    }
    return this.#s.batch(ops);
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
    const base = tokenKey(accessor);
    for (const k of await this.#s.list(base)) {
      if (k.endsWith("/")) continue;
      const id = await readJSON<string>(this.#s, base + k);
      if (id !== null) out.push(id);
    }
    return out;
  }

  /** Token index entries whose lease no longer exists (left by a crash); for tidy. */
  async danglingIndex(): Promise<string[]> {
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
