/**
 * Embedded libSQL file storage (the `libsql` sync driver: prepared statements measured 4x faster
 * than `@libsql/client` here). WAL + synchronous=FULL so a commit is on disk before its promise
 * resolves. Writes queued in the same event-loop turn are committed together (group commit) so
 * the fsync cost is shared across concurrent requests.
 */
import Database from "libsql";
import { setImmediate } from "node:timers";
import type { AuditRow, PhysicalOp, PhysicalStorage } from "./storage.ts";
import { ZERO_HASH } from "./storage.ts";

interface Pending {
  ops: PhysicalOp[];
  audit: AuditRow[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

// deno-lint-ignore no-explicit-any
type Stmt = any;

const MIGRATIONS: string[] = [
  `CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
   CREATE TABLE audit (seq INTEGER PRIMARY KEY, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
     mac TEXT NOT NULL, entry TEXT NOT NULL);`,
];

export interface LibsqlOptions {
  /** Milliseconds to wait on a lock held by another process. */
  busyTimeoutMs?: number;
  /** "FULL" (default) syncs every commit; only benchmarks of the ceiling should lower it. */
  synchronous?: "FULL" | "NORMAL";
}

export class LibsqlStorage implements PhysicalStorage {
  readonly kind = "libsql";
  readonly path: string;
  #db: Database.Database;
  #get: Stmt;
  #put: Stmt;
  #del: Stmt;
  #keys: Stmt;
  #audit: Stmt;
  #queue: Pending[] = [];
  #scheduled = false;
  #closed = false;
  onAuditRollback?: (head: { seq: number; hash: string }) => void;

  constructor(path: string, opts: LibsqlOptions = {}) {
    this.path = path;
    this.#db = new Database(path);
    this.#db.exec(`PRAGMA journal_mode = WAL`);
    this.#db.exec(`PRAGMA synchronous = ${opts.synchronous ?? "FULL"}`);
    this.#db.exec(`PRAGMA busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
    this.#db.exec(`PRAGMA foreign_keys = ON`);
    this.#migrate();
    this.#get = this.#db.prepare(`SELECT value FROM kv WHERE key = ?`).raw(true);
    this.#put = this.#db.prepare(
      `INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
    );
    this.#del = this.#db.prepare(`DELETE FROM kv WHERE key = ?`);
    this.#keys = this.#db.prepare(
      `SELECT key FROM kv WHERE key >= ? AND key < ? ORDER BY key LIMIT ?`,
    ).raw(true);
    this.#audit = this.#db.prepare(
      `INSERT INTO audit (seq, prev_hash, hash, mac, entry) VALUES (?, ?, ?, ?, ?)`,
    );
  }

  #migrate(): void {
    this.#db.exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`,
    );
    const row = this.#db.prepare(`SELECT MAX(version) AS v FROM schema_migrations`).get() as {
      v: number | null;
    };
    const current = row?.v ?? 0;
    for (let i = current; i < MIGRATIONS.length; i++) {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        this.#db.exec(MIGRATIONS[i]!);
        this.#db.prepare(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`)
          .run(i + 1, new Date().toISOString());
        this.#db.exec("COMMIT");
      } catch (e) {
        this.#db.exec("ROLLBACK");
        throw e;
      }
    }
  }

  get(key: string): Promise<Uint8Array | null> {
    const row = this.#get.get(key) as [Uint8Array] | undefined;
    return Promise.resolve(row ? new Uint8Array(row[0]) : null);
  }

  keys(prefix: string, limit = 100_000): Promise<string[]> {
    // Upper bound: the prefix with its last code unit incremented covers every extension.
    const hi = prefix === "" ? "\uffff" : prefix.slice(0, -1) +
      String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
    const rows = this.#keys.all(prefix, hi, limit) as [string][];
    return Promise.resolve(rows.map((r) => r[0]));
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.transaction([{ op: "put", key, value }]);
  }

  delete(key: string): Promise<void> {
    return this.transaction([{ op: "delete", key }]);
  }

  transaction(ops: PhysicalOp[], audit: AuditRow[] = []): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("storage is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ ops, audit, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // A macrotask, not a microtask: requests arriving in this turn join the same commit.
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        for (const p of batch) {
          for (const a of p.audit) {
            this.#audit.run(a.seq, a.prevHash, a.hash, a.mac, JSON.stringify(a.entry));
          }
          for (const o of p.ops) {
            if (o.op === "put") this.#put.run(o.key, o.value);
            else this.#del.run(o.key);
          }
        }
        this.#db.exec("COMMIT");
      } catch (e) {
        try {
          this.#db.exec("ROLLBACK");
        } catch { /* the failed COMMIT may already have rolled back */ }
        throw e;
      }
    } catch (e) {
      if (batch.some((p) => p.audit.length) && this.onAuditRollback) {
        this.onAuditRollback(this.#readAuditHead());
      }
      for (const p of batch) p.reject(e);
      return;
    }
    for (const p of batch) p.resolve();
  }

  auditHead(): Promise<{ seq: number; hash: string }> {
    return Promise.resolve(this.#readAuditHead());
  }

  #readAuditHead(): { seq: number; hash: string } {
    const row = this.#db.prepare(`SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).get() as
      | { seq: number; hash: string }
      | undefined;
    return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: ZERO_HASH };
  }

  *auditRows(fromSeq = 1): Iterable<AuditRow> {
    const stmt = this.#db.prepare(
      `SELECT seq, prev_hash, hash, mac, entry FROM audit WHERE seq >= ? ORDER BY seq`,
    ).raw(true);
    for (const r of stmt.iterate(fromSeq) as Iterable<[number, string, string, string, string]>) {
      yield { seq: r[0], prevHash: r[1], hash: r[2], mac: r[3], entry: JSON.parse(r[4]) };
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#queue.length) this.#flush();
    this.#db.close();
  }
}
