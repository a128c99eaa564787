/**
 * `secrethub audit verify -db FILE`: recomputes the chain straight from the database file,
 * without a running server. The audit key comes from a key file (hex or base64, as exported by
 * `GET sys/audit/key`) or from unseal keys, which rebuild the root key → keyring → audit key.
 *
 * The file is only read, and nothing is created beside it: it may be evidence, and a path that
 * names no database must not turn into an empty one that then "verifies". LibsqlStorage.open
 * would create and migrate it, so this opens the file with libsql directly, as a read-only URI
 * (the package ignores its own `readonly` and `fileMustExist` options).
 */
import Database from "libsql";
import type { OfflineVerifyOptions } from "../../cli/command.ts";
import { Barrier } from "../barrier/barrier.ts";
import { decodeShare, ShamirSeal } from "../seal/seal.ts";
import { combineShares } from "../seal/shamir.ts";
import { fromBase64 } from "../../lib/crypto.ts";
import {
  decodeAuditBlock,
  decodeLegacyAuditRow,
  type LegacyAuditRow,
} from "../storage/audit_block.ts";
import {
  type AuditLink,
  type AuditRow,
  type PhysicalStorage,
  StorageError,
  storageReason,
} from "../storage/storage.ts";
import { type VerifyResult, verifyResultView, verifyStoredChain } from "./verify.ts";
import { AUDIT_ANOMALY_EXIT } from "../../lib/audit_verify.ts";

const AUDIT_KEY_PATH = "core/audit-key";
const SEAL_CONFIG_PATH = "core/seal-config";
const SQLITE_MAGIC = "SQLite format 3\0";
/**
 * Engine and auth-method data: only requests write it, and every request is audited first, so
 * a database holding some has had audit records.
 */
const REQUEST_WRITTEN_PREFIXES = ["logical/", "auth/"];

/** A local failure, printed as `Error: <message>` (exit 1). */
class OfflineError extends Error {
  override name = "OfflineError";
}

function decodeKey(text: string): Uint8Array {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) {
    return new Uint8Array(t.match(/../g)!.map((h) => parseInt(h, 16)));
  }
  const b = fromBase64(t);
  if (b.length === 32) return b;
  throw new OfflineError("the audit key file must hold 32 bytes as hex or base64");
}

/** The first bytes of the file (fewer when it is shorter). */
async function readHead(path: string, n: number): Promise<Uint8Array> {
  const f = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = await f.read(buf.subarray(got));
      if (r === null) break;
      got += r;
    }
    return buf.subarray(0, got);
  } finally {
    f.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** `%`, `?` and `#` would end or escape a URI's path; SQLite decodes %HH back. */
function fileUri(path: string, query: string): string {
  return `file:${path.split("/").map(encodeURIComponent).join("/")}?${query}`;
}

/** The file, opened for reading only; an OfflineError says why it is no SecretHub database. */
async function openReadOnly(path: string): Promise<ReadOnlyFile> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new OfflineError(`database file not found: ${path}`);
  }
  if (!info.isFile) throw new OfflineError(`not a SecretHub database: ${path} is not a file`);
  // Checked before SQLite sees the file: SQLite takes an empty file for an empty database.
  const header = await readHead(path, 100);
  if (header.length < 100 || new TextDecoder().decode(header.subarray(0, 16)) !== SQLITE_MAGIC) {
    throw new OfflineError(`not a SecretHub database: ${path} is not an SQLite file`);
  }
  // A read-only connection to a WAL database (header byte 18 is 2) creates the -wal and -shm
  // files when they are missing. Without a -wal file every commit is in the file itself (a
  // checkpoint copied the log in and removed it), so it is read as immutable, which creates
  // nothing. A stopped server leaves both files, and they are read as they are.
  const immutable = header[18] === 2 && !(await exists(`${path}-wal`));
  let db: Database.Database;
  try {
    db = new Database(fileUri(path, immutable ? "mode=ro&immutable=1" : "mode=ro"));
  } catch (e) {
    throw new OfflineError(`cannot open ${path}: ${storageReason(e)}`);
  }
  try {
    // A server still running may hold a lock for a moment (WAL recovery, a checkpoint).
    db.exec("PRAGMA busy_timeout = 5000");
    const tables = new Set(
      (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).raw(true).all() as [
        string,
      ][]).map((r) => r[0]),
    );
    if (!tables.has("kv") || !tables.has("schema_migrations")) {
      throw new OfflineError(`not a SecretHub database: ${path} has no SecretHub tables`);
    }
    return new ReadOnlyFile(db, tables);
  } catch (e) {
    db.close();
    if (e instanceof OfflineError) throw e;
    throw new OfflineError(`cannot read ${path}: ${storageReason(e)}`);
  }
}

/**
 * What the seal, the barrier and verify read, from a read-only connection. Anything that
 * would write fails: nothing here should.
 */
class ReadOnlyFile implements PhysicalStorage {
  readonly kind = "libsql-readonly";
  readonly #db: Database.Database;
  readonly #tables: Set<string>;

  constructor(db: Database.Database, tables: Set<string>) {
    this.#db = db;
    this.#tables = tables;
  }

  get(key: string): Promise<Uint8Array | null> {
    const row = this.#db.prepare(`SELECT value FROM kv WHERE key = ?`).raw(true).get(key) as
      | [Uint8Array]
      | undefined;
    return Promise.resolve(row ? new Uint8Array(row[0]) : null);
  }

  keys(prefix: string, limit = 100_000): Promise<string[]> {
    const hi = prefix === "" ? "\uffff" : prefix.slice(0, -1) +
      String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    const rows = this.#db.prepare(
      `SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?`,
    ).raw(true).all(prefix, hi, limit) as [string][];
    return Promise.resolve(rows.map((r) => r[0]));
  }

  put(): Promise<void> {
    return Promise.reject(new StorageError("the database is open read-only"));
  }

  delete(): Promise<void> {
    return Promise.reject(new StorageError("the database is open read-only"));
  }

  transaction(): Promise<AuditLink[] | void> {
    return Promise.reject(new StorageError("the database is open read-only"));
  }

  setAuditKey(): void {}

  auditHead(): Promise<{ seq: number; hash: string }> {
    return Promise.reject(new StorageError("not available on a read-only file"));
  }

  /** Null also when the table is missing: a database from before head rows. */
  auditSignedHead(): { seq: number; hash: string; mac: string } | null {
    if (!this.#tables.has("audit_head")) return null;
    const row = this.#db.prepare(`SELECT seq, hash, mac FROM audit_head WHERE id = 1`).get() as
      | { seq: number; hash: string; mac: string }
      | undefined;
    return row ? { seq: row.seq, hash: row.hash, mac: row.mac } : null;
  }

  /** Rows from before audit blocks, then every block's records (as LibsqlStorage reads them). */
  *auditRows(): Iterable<AuditRow> {
    if (this.#tables.has("audit")) {
      const rows = this.#db.prepare(
        `SELECT seq, prev_hash, hash, mac, entry FROM audit ORDER BY seq`,
      ).raw(true).iterate() as Iterable<LegacyAuditRow>;
      for (const r of rows) yield decodeLegacyAuditRow(r);
    }
    if (this.#tables.has("audit_block")) {
      const blocks = this.#db.prepare(
        `SELECT first_seq, lines FROM audit_block ORDER BY first_seq`,
      ).raw(true).iterate() as Iterable<[number, string]>;
      for (const b of blocks) yield* decodeAuditBlock(b[0], b[1]);
    }
  }

  close(): Promise<void> {
    this.#db.close();
    return Promise.resolve();
  }
}

async function auditKey(storage: ReadOnlyFile, o: OfflineVerifyOptions): Promise<Uint8Array> {
  if (o.keyFile) return decodeKey(await Deno.readTextFile(o.keyFile));
  const seal = new ShamirSeal(storage);
  await seal.load();
  const root = await combineShares(o.unsealKeys.map(decodeShare));
  const barrier = new Barrier(storage);
  try {
    barrier.unsealWith(await seal.openKeyring(root));
  } catch {
    throw new OfflineError("the unseal keys do not open this database's keyring");
  } finally {
    root.fill(0);
  }
  const k = await barrier.get(AUDIT_KEY_PATH);
  barrier.seal();
  if (!k) throw new OfflineError("no audit key in this database");
  return k;
}

/**
 * No records and no head is how the server leaves a database after init and unseal, before
 * its first audited request; but it is also what deleting every record and the head leaves.
 * Data that only audited requests write tells the two apart.
 */
async function emptyChainVerdict(storage: ReadOnlyFile, r: VerifyResult): Promise<VerifyResult> {
  for (const prefix of REQUEST_WRITTEN_PREFIXES) {
    if ((await storage.keys(prefix, 1)).length > 0) {
      return {
        ok: false,
        checked: 0,
        firstBadSeq: 1,
        reason: "no audit head record and no records, but the database holds data that " +
          "only audited requests write: the audit records were removed",
      };
    }
  }
  return r;
}

export async function offlineAuditVerify(o: OfflineVerifyOptions): Promise<number> {
  if (!o.keyFile && o.unsealKeys.length === 0) {
    o.stderr("Error: give -key-file FILE or -unseal-key KEY (repeat up to the threshold)");
    return 1;
  }
  let storage: ReadOnlyFile | undefined;
  try {
    storage = await openReadOnly(o.db);
    if (!(await storage.get(SEAL_CONFIG_PATH))) {
      throw new OfflineError(
        `not an initialised SecretHub database: ${o.db} has no seal configuration`,
      );
    }
    const key = await auditKey(storage, o);
    // The server is stopped: any row past the signed head was not written by it.
    let r = verifyStoredChain(storage, key, { offline: true });
    if (r.ok && r.checked === 0 && storage.auditSignedHead() === null) {
      r = await emptyChainVerdict(storage, r);
    }
    const out = verifyResultView(r);
    if (o.format === "json") o.stdout(JSON.stringify(out, null, 2));
    else if (!r.ok) {
      o.stdout(
        `Audit chain BROKEN at seq ${r.firstBadSeq}: ${
          r.reason ?? "mismatch"
        } (${r.checked} entries checked)`,
      );
    } else if (r.checked === 0) {
      o.stdout("Audit chain empty: nothing has been audited yet (0 entries)");
    } else o.stdout(`Audit chain intact: ${r.checked} entries verified`);
    if (!r.ok) return 1;
    if (!r.anomalies?.length) return 0;
    if (o.format !== "json") {
      for (const a of r.anomalies) {
        o.stderr(`Warning: anomaly recorded at seq ${a.seq}: ${a.error}`);
      }
    }
    return AUDIT_ANOMALY_EXIT;
  } catch (e) {
    o.stderr(`Error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await storage?.close();
  }
}
