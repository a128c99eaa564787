/**
 * The physical storage contract: bytes by key plus an append-only audit table. Everything above
 * it (barrier, engines) talks to this interface only, so a PostgreSQL backend can replace the
 * embedded libSQL file without touching anything else.
 */

/**
 * The storage failed (disk full, I/O error, closed). Its message is safe to show a client and to
 * log: it is built from our own words and SQLite's error text (`storage commit failed: database
 * or disk is full`), never from keys or values. core/http/errors.ts answers it with a 500 that
 * carries the message, as Vault returns its storage error text.
 */
export class StorageError extends Error {
  override name = "StorageError";
}

/**
 * The words of a storage driver error that can be shown: SQLite's own message for a SQLite
 * error (`database or disk is full`, `disk I/O error`), only the error's type otherwise (the
 * message of an arbitrary error might quote data).
 */
export function storageReason(e: unknown): string {
  if (e instanceof StorageError) return e.message;
  const code = (e as { code?: unknown })?.code;
  if (e instanceof Error && typeof code === "string" && code.startsWith("SQLITE_")) {
    return e.message;
  }
  if (e instanceof Error && e.message === "The database connection is not open") {
    return "storage is closed";
  }
  return `unexpected ${e instanceof Error ? e.name : typeof e}`;
}

export type PhysicalOp =
  | { op: "put"; key: string; value: Uint8Array }
  | { op: "delete"; key: string };

export interface AuditRow {
  seq: number;
  prevHash: string;
  hash: string;
  mac: string;
  entry: Record<string, unknown>;
  /** The entry's canonical JSON when already built; stored instead of re-serialising. */
  entryJson?: string;
}

/** Where an appended entry landed in the chain. */
export interface AuditLink {
  seq: number;
  prevHash: string;
  hash: string;
  mac: string;
}

export interface PhysicalStorage {
  readonly kind: string;
  /**
   * The stored value. It may be the same array on every call while the value is unchanged, but a
   * changed value is always a new array (the barrier's plaintext cache relies on this), and
   * nobody may mutate an array this returns.
   */
  get(key: string): Promise<Uint8Array | null>;
  /**
   * The stored value if it is in memory right now (what get() would return), else undefined;
   * never reads the disk. Lets the hot read path skip a promise per lookup.
   */
  peek?(key: string): Uint8Array | undefined;
  /** All keys that start with `prefix`, sorted, at most `limit`. */
  keys(prefix: string, limit?: number): Promise<string[]>;
  put(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Applies ops and appends audit entries atomically; resolves only after the transaction is
   * synced. Concurrent calls may share one transaction (group commit); if it fails, all of them
   * fail. `audit` holds built entries (canonical JSON): storage links them into the hash chain in
   * commit order under the key given to {@link setAuditKey}, and with `wantLinks` resolves with
   * where each landed (for audit sinks).
   */
  transaction(
    ops: PhysicalOp[],
    audit?: string[],
    wantLinks?: boolean,
  ): Promise<AuditLink[] | void>;
  /** The audit HMAC key (on unseal), or null to forget it (on seal): entries are refused then. */
  setAuditKey(key: Uint8Array | null): void;
  auditHead(): Promise<{ seq: number; hash: string }>;
  /** The signed head the writer stored with its last batch (audit/chain.ts SignedHead), or null. */
  auditSignedHead(): { seq: number; hash: string; mac: string } | null;
  auditRows(fromSeq?: number): Iterable<AuditRow>;
  close(): Promise<void>;
}

/** Immediate children of `prefix` among `keys`: leaf names, folders with a trailing "/". */
export function childNames(prefix: string, keys: string[]): string[] {
  const out: string[] = [];
  let lastFolder = "";
  for (const k of keys) {
    const rest = k.slice(prefix.length);
    const slash = rest.indexOf("/");
    if (slash === -1) {
      out.push(rest);
    } else {
      const folder = rest.slice(0, slash + 1);
      if (folder !== lastFolder) {
        out.push(folder);
        lastFolder = folder;
      }
    }
  }
  return out;
}

export const ZERO_HASH = "0".repeat(64);
