/**
 * The write side of the libSQL storage, in its own worker thread: it owns the only writing
 * connection and runs one transaction per batch the main thread sends. Commits (and their fsync)
 * happen here, so they never stall request handling; WAL checkpoints have a thread of their own.
 */
/// <reference lib="deno.worker" />
import { migrate, openDb, readAuditHead, readSignedHead } from "./libsql_schema.ts";
import {
  encodeLink,
  forEachLine,
  WAL_RESTART,
  type WriterReply,
  type WriterRequest,
} from "./libsql_protocol.ts";
import {
  type ChainHead,
  ChainLinker,
  entryJson,
  GENESIS_HEAD,
  headIsSigned,
} from "../audit/chain.ts";
import { encodeAuditLine } from "./audit_block.ts";
import { StorageError, storageReason } from "./storage.ts";
import type Database from "libsql";

let db: Database.Database | null = null;
// deno-lint-ignore no-explicit-any
let put: any, del: any;
// deno-lint-ignore no-explicit-any
let insertBlock: any, putHead: any;

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
/**
 * Where the chain went on from at unseal. After records were cut from the end, that is the
 * signed head, ahead of the last stored record until the next commit: a failed transaction rolls
 * the linker back to it, never behind it, or the cut would be linked over.
 */
let chainFloor: ChainHead = GENESIS_HEAD;
let syncFull = true;
/**
 * Why the last commit failed, until the main thread has heard of it and failed what it had
 * already posted: batches that arrive in between are refused, so no write queued behind a failed
 * audit entry can land.
 */
let failed: string | null = null;

/**
 * Links a batch's records (entries, one per line) and stores them as one block row (see
 * audit_block.ts) with the new head, inside the caller's transaction. Returns their links when
 * asked for.
 */
function appendBlock(chain: ChainLinker, audit: string, wantLinks: boolean): string {
  let lines = "";
  let links = "";
  let firstSeq = 0;
  forEachLine(audit, (json) => {
    const l = chain.link(json);
    if (firstSeq === 0) firstSeq = l.seq;
    lines += encodeAuditLine(l, json);
    if (wantLinks) links += encodeLink(l);
  });
  if (firstSeq === 0) return links;
  const head = chain.head;
  insertBlock.run(firstSeq, head.seq, head.hash, lines);
  putHead.run(head.seq, head.hash, chain.headMac());
  return links;
}

/**
 * Whether engine or auth-method data is stored. Only requests write it, each audited in the
 * same commit, so with it present an empty chain without a head row was emptied, not new (init
 * and unseal write only core/ and sys/ keys, unaudited, before the audit key exists).
 */
function holdsRequestData(d: Database.Database): boolean {
  return d.prepare(
    `SELECT 1 FROM kv WHERE (key >= 'logical/' AND key < 'logical0') OR (key >= 'auth/' AND key < 'auth0') LIMIT 1`,
  ).get() !== undefined;
}

/**
 * Where the chain goes on at unseal. A signed head ahead of the last record means records were
 * cut from the end while the server was down: the chain goes on from the head, so the cut stays
 * a gap that verify names. A non-empty chain without a signed head (a database from before head
 * rows, or a head row deleted, edited or rolled back) cannot say what it lost: an "anomaly"
 * record says so in the chain itself, before anything else is written.
 */
function openChain(d: Database.Database, key: Uint8Array): ChainLinker {
  const last = readAuditHead(d);
  const stored = readSignedHead(d);
  const signed = stored !== null && headIsSigned(key, stored);
  const chain = new ChainLinker(key, signed && stored.seq > last.seq ? stored : last);
  let problem = "";
  if (last.seq === 0 && stored === null && holdsRequestData(d)) {
    problem = "no audit records and no audit head record, yet engine data is stored";
  } else if (last.seq > 0 && stored === null) problem = "no audit head record";
  else if (last.seq > 0 && !signed) problem = "the audit head record's mac does not match";
  else if (signed && stored.seq < last.seq) {
    problem = `the audit head record (seq ${stored.seq}) is behind the last record`;
  }
  chainFloor = chain.head;
  if (problem === "") return chain;
  const note = entryJson({
    error: `${problem} at unseal: records after seq ${last.seq} may have been removed`,
    operation: "update",
    path: "sys/audit/head",
    policies: [],
    remote_address: "",
    request_id: crypto.randomUUID(),
    result: "error",
    time: new Date().toISOString(),
    token_accessor: "",
    type: "anomaly",
  });
  try {
    d.exec("BEGIN IMMEDIATE");
    appendBlock(chain, note, false);
    d.exec("COMMIT");
    reply({ t: "anomaly", seq: chain.head.seq, error: `${problem} at unseal` });
  } catch {
    try {
      d.exec("ROLLBACK");
    } catch { /* nothing open */ }
    chain.reset(last);
  }
  chainFloor = chain.head;
  return chain;
}

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
      if (m.maxPageCount !== undefined) {
        db.exec(`PRAGMA max_page_count = ${Math.max(1, Math.floor(m.maxPageCount))}`);
      }
      put = db.prepare(
        `INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
      );
      del = db.prepare(`DELETE FROM kv WHERE key = ?`);
      walPassive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)").raw(true);
      walSignal = new Int32Array(m.walSignal);
      insertBlock = db.prepare(
        `INSERT INTO audit_block (first_seq, last_seq, last_hash, lines) VALUES (?, ?, ?, ?)`,
      );
      putHead = db.prepare(
        `INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac`,
      );
      reply({ t: "ready" });
    } catch (e) {
      reply({ t: "failed", error: String(e) });
    }
    return;
  }
  if (m.t === "audit-key") {
    linker?.wipe();
    linker = m.key && db ? openChain(db, m.key) : null;
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
    if (m.audit && !linker) throw new StorageError("audit key not set (core sealed)");
    restartWalIfAsked();
    let links = "";
    d.exec("BEGIN IMMEDIATE");
    try {
      if (m.audit) links = appendBlock(linker!, m.audit, m.wantLinks);
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
      if (m.audit) {
        const last = readAuditHead(d);
        linker?.reset(last.seq >= chainFloor.seq ? last : chainFloor);
      }
      throw e;
    }
    reply(m.wantLinks ? { t: "done", ok: true, links } : { t: "done", ok: true });
  } catch (e) {
    // Shown to clients and logged (storage commit failed: …): SQLite's words or our own only.
    failed = storageReason(e);
    reply({ t: "done", ok: false, error: failed });
  }
};
