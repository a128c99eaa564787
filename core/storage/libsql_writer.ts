/**
 * The write side of the libSQL storage, in its own worker thread: it owns the only writing
 * connection and runs one transaction per batch the main thread sends. Commits (and their fsync)
 * happen here, so they never stall request handling; WAL checkpoints have a thread of their own.
 */
/// <reference lib="deno.worker" />
import { migrate, openDb, readAuditHead } from "./libsql_schema.ts";
import {
  encodeLink,
  forEachLine,
  WAL_RESTART,
  type WriterReply,
  type WriterRequest,
} from "./libsql_protocol.ts";
import { ChainLinker } from "../audit/chain.ts";
import { encodeAuditLine } from "./audit_block.ts";
import type Database from "libsql";

let db: Database.Database | null = null;
// deno-lint-ignore no-explicit-any
let put: any, del: any;
// deno-lint-ignore no-explicit-any
let insertBlock: any;

let fullMode = "FULL";
/** Shared with the checkpointer, which asks here for the WAL to be restarted (WAL_RESTART). */
let walSignal: Int32Array | null = null;
// deno-lint-ignore no-explicit-any
let walPassive: any;

/**
 * Copies the frames committed since the checkpointer's last pass while no transaction is open,
 * so the next one finds the WAL all copied and starts it over from the top. That costs one
 * checkpoint of a few hundred KiB and its two fsyncs, with every request waiting (under 1 ms at
 * full load on the dev machine, since the checkpointer syncs what it copies), hence only past
 * the size limit. Busy (a checkpoint already running) or failing, it is asked again later.
 */
function restartWalIfAsked(): void {
  if (!walSignal || Atomics.load(walSignal, WAL_RESTART) === 0) return;
  Atomics.store(walSignal, WAL_RESTART, 0);
  try {
    walPassive.get();
  } catch { /* the data is safe in the WAL either way */ }
}
/**
 * The audit chain's head lives here, with the only connection that writes audit rows: entries are
 * linked in exactly the order they are inserted, and a failed transaction rolls the head back to
 * what is on disk. Set on unseal, dropped on seal (then entries are refused: fail closed).
 */
let linker: ChainLinker | null = null;
let syncFull = true;
/**
 * Why the last commit failed, until the main thread has heard of it and failed what it had
 * already posted: batches that arrive in between are refused, so no write queued behind a failed
 * audit entry can land.
 */
let failed: string | null = null;

function reply(m: WriterReply): void {
  self.postMessage(m);
}

self.onmessage = (ev: MessageEvent<WriterRequest>) => {
  const m = ev.data;
  if (m.t === "open") {
    try {
      db = openDb(m.path, m.busyTimeoutMs);
      fullMode = m.fullMode;
      db.exec(`PRAGMA synchronous = ${fullMode}`);
      // Checkpoints run on their own thread (libsql_checkpointer.ts), never inside a commit
      // that requests are waiting for; the WAL file is cut back after it restarts.
      db.exec(`PRAGMA wal_autocheckpoint = 0`);
      db.exec(`PRAGMA journal_size_limit = ${64 * 1024 * 1024}`);
      migrate(db);
      put = db.prepare(
        `INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      );
      del = db.prepare(`DELETE FROM kv WHERE key = ?`);
      walPassive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)").raw(true);
      walSignal = new Int32Array(m.walSignal);
      insertBlock = db.prepare(
        `INSERT INTO audit_block (first_seq, last_seq, last_hash, lines) VALUES (?, ?, ?, ?)`,
      );
      reply({ t: "ready" });
    } catch (e) {
      reply({ t: "failed", error: String(e) });
    }
    return;
  }
  if (m.t === "audit-key") {
    linker?.wipe();
    linker = m.key && db ? new ChainLinker(m.key, readAuditHead(db)) : null;
    m.key?.fill(0);
    return;
  }
  if (m.t === "resume") {
    failed = null;
    return;
  }
  if (m.t === "close") {
    linker?.wipe();
    linker = null;
    db?.close();
    db = null;
    reply({ t: "closed" });
    return;
  }
  if (failed !== null) {
    reply({ t: "done", ok: false, error: failed, refused: true });
    return;
  }
  const d = db!;
  // Only batches that change data need an fsync before they are acknowledged. A batch of audit
  // rows alone (reads) reaches the WAL, which survives a process crash, and the next durable
  // commit syncs it (the same promise as Vault's file audit device, which does not fsync).
  const durable = m.ops.length > 0;
  try {
    if (durable !== syncFull) {
      d.exec(`PRAGMA synchronous = ${durable ? fullMode : "NORMAL"}`);
      syncFull = durable;
    }
    if (m.audit && !linker) throw new Error("audit key not set (core sealed)");
    restartWalIfAsked();
    let links = "";
    d.exec("BEGIN IMMEDIATE");
    try {
      // The batch's records go in as one block row (see audit_block.ts).
      let lines = "";
      let firstSeq = 0;
      let lastSeq = 0;
      let lastHash = "";
      forEachLine(m.audit, (json) => {
        const l = linker!.link(json);
        if (firstSeq === 0) firstSeq = l.seq;
        lastSeq = l.seq;
        lastHash = l.hash;
        lines += encodeAuditLine(l, json);
        if (m.wantLinks) links += encodeLink(l);
      });
      if (firstSeq !== 0) insertBlock.run(firstSeq, lastSeq, lastHash, lines);
      for (const o of m.ops) {
        if (o.op === "put") put.run(o.key, o.value);
        else del.run(o.key);
      }
      d.exec("COMMIT");
    } catch (e) {
      try {
        d.exec("ROLLBACK");
      } catch { /* a failed COMMIT may already have rolled back */ }
      // Nothing of this transaction is on disk: the next entry links to what is.
      if (m.audit) linker?.reset(readAuditHead(d));
      throw e;
    }
    reply(m.wantLinks ? { t: "done", ok: true, links } : { t: "done", ok: true });
  } catch (e) {
    failed = String(e);
    reply({ t: "done", ok: false, error: failed });
  }
};
