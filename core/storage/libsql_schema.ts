/** Opening a libSQL file the same way from every connection, and its schema migrations. */
import Database from "libsql";
import { ZERO_HASH } from "./storage.ts";

const MIGRATIONS: string[] = [
  `CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
   CREATE TABLE audit (seq INTEGER PRIMARY KEY, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
     mac TEXT NOT NULL, entry TEXT NOT NULL);`,
  // Records from here on go in blocks (audit_block.ts); `audit` keeps the rows written before.
  // last_seq and last_hash give the writer the chain's head without parsing a block.
  `CREATE TABLE audit_block (first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL,
     last_hash TEXT NOT NULL, lines TEXT NOT NULL);`,
  // The chain's head with a MAC (SignedHead in audit/chain.ts), rewritten by every batch: what
  // tells verify that records were cut from the end of the log.
  `CREATE TABLE audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,
     hash TEXT NOT NULL, mac TEXT NOT NULL);`,
];

export function openDb(path: string, busyTimeoutMs: number): Database.Database {
  const db = new Database(path);
  db.exec(`PRAGMA journal_mode = WAL`);
  db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
  return db;
}

export function migrate(db: Database.Database): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`,
  );
  const row = db.prepare(`SELECT MAX(version) AS v FROM schema_migrations`).get() as {
    v: number | null;
  };
  for (let i = row?.v ?? 0; i < MIGRATIONS.length; i++) {
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(MIGRATIONS[i]!);
      db.prepare(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`)
        .run(i + 1, new Date().toISOString());
      db.exec("COMMIT");
    } catch (e) {
      db.exec("ROLLBACK");
      throw e;
    }
  }
}

export function readAuditHead(db: Database.Database): { seq: number; hash: string } {
  const block = db.prepare(
    `SELECT last_seq, last_hash FROM audit_block ORDER BY first_seq DESC LIMIT 1`,
  ).get() as { last_seq: number; last_hash: string } | undefined;
  if (block) return { seq: block.last_seq, hash: block.last_hash };
  const row = db.prepare(`SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).get() as
    | { seq: number; hash: string }
    | undefined;
  return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: ZERO_HASH };
}

/** The head row the writer stored last (see migration 3), or null when there is none. */
export function readSignedHead(
  db: Database.Database,
): { seq: number; hash: string; mac: string } | null {
  const row = db.prepare(`SELECT seq, hash, mac FROM audit_head WHERE id = 1`).get() as
    | { seq: number; hash: string; mac: string }
    | undefined;
  return row ? { seq: row.seq, hash: row.hash, mac: row.mac } : null;
}
