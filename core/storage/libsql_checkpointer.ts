/**
 * WAL checkpoints for the libSQL file, in a worker thread of their own. A checkpoint copies WAL
 * frames into the database file and fsyncs it: run by the writer (SQLite's auto-checkpoint) it
 * took 10–18 ms every few thousand audited reads, and every request waiting on the writer
 * stalled that long (the kv_read p99). PASSIVE never takes the writer's lock, so commits go on
 * while this thread copies.
 *
 * SQLite restarts the WAL from the top only when a write transaction begins with every frame
 * copied, which a writer that never pauses does not allow: under steady load the file grew until
 * a forced RESTART held the writer for 150–200 ms. So once a pass has copied a WAL larger than
 * `restartFrames`, this thread raises WAL_RESTART; the writer, between two transactions, copies
 * the few frames committed since and its next transaction restarts the WAL. That copy holds
 * every request waiting on the writer, so it is kept small: a few passes run back to back first,
 * and every pass syncs the pages it copied (syncCopied), so the writer's copy syncs only its own
 * (under 1 ms at full load on the dev machine, where it used to take 20–35 ms).
 */
/// <reference lib="deno.worker" />
import { openDb } from "./libsql_schema.ts";
import {
  type CheckpointerReply,
  type CheckpointerRequest,
  WAL_RESTART,
} from "./libsql_protocol.ts";
import type Database from "libsql";

/**
 * The last resort, should the writer's restarts keep failing (a reader that never lets go): past
 * this many frames (4 KiB pages) left uncopied, RESTART waits for the writer once, so the file
 * cannot grow unbounded.
 */
const FORCE_RESTART_FRAMES = 262_144;

let db: Database.Database | null = null;
let timer: ReturnType<typeof setInterval> | undefined;
// deno-lint-ignore no-explicit-any
let passive: any;
let signal: Int32Array | null = null;
let restartFrames = 0;
/** The database file, opened by this thread only to sync it (see syncCopied). */
let dbFile: Deno.FsFile | null = null;
/** WAL frames copied as of the last pass: an idle server's passes copy nothing and sync nothing. */
let lastCopied = -1;

function reply(m: CheckpointerReply): void {
  self.postMessage(m);
}

/**
 * SQLite syncs the database file at the end of a pass only when no commit came in while it
 * copied, which under steady writes is almost never: the copied pages stayed dirty in the page
 * cache for a whole WAL cycle, and the one pass that finally synced them (the writer's, before a
 * restart, while every request waited) wrote them all out, 20–35 ms here. Synced after every pass
 * from this thread, they never pile up. Nothing depends on it for safety: SQLite only counts the
 * pages as copied for a restart after a sync of its own.
 */
function syncCopied(): void {
  try {
    dbFile?.syncDataSync();
  } catch { /* the next pass syncs again; SQLite's own sync guards the restart */ }
}

/** One PASSIVE pass, then the sync of what it copied; returns [busy, WAL frames, copied]. */
function pass(): [number, number, number] {
  const r = passive.get() as [number, number, number];
  if (r[0] === 0 && r[2] > 0 && r[2] !== lastCopied) syncCopied();
  lastCopied = r[2];
  return r;
}

/** Passes run back to back before a restart is asked for, so the writer has little to copy. */
const CATCH_UP_PASSES = 3;
/** A pass that copied fewer frames than this leaves the writer a copy of well under a ms. */
const CAUGHT_UP_FRAMES = 128;

function tick(): void {
  if (!db) return;
  try {
    let [busy, log, copied] = pass();
    if (busy === 0 && log > restartFrames && copied === log && signal) {
      // The writer copies what was committed since the last pass, with every request waiting:
      // a few quick passes first leave it a few hundred KiB instead of a tick's worth.
      for (let i = 0; i < CATCH_UP_PASSES; i++) {
        const before = log;
        [busy, log, copied] = pass();
        if (busy !== 0 || copied !== log || log - before < CAUGHT_UP_FRAMES) break;
      }
      if (busy === 0 && copied === log) Atomics.store(signal, WAL_RESTART, 1);
    }
    if (log > FORCE_RESTART_FRAMES && copied < log) db.exec("PRAGMA wal_checkpoint(RESTART)");
  } catch {
    // Busy or a transient I/O error: the next tick tries again; the data is safe in the WAL.
  }
}

self.onmessage = (ev: MessageEvent<CheckpointerRequest>) => {
  const m = ev.data;
  if (m.t === "open") {
    try {
      db = openDb(m.path, m.busyTimeoutMs);
      passive = db.prepare("PRAGMA wal_checkpoint(PASSIVE)").raw(true);
      signal = new Int32Array(m.walSignal);
      restartFrames = m.restartFrames;
      dbFile = Deno.openSync(m.path, { read: true });
      timer = setInterval(tick, m.intervalMs);
      reply({ t: "ready" });
    } catch (e) {
      reply({ t: "failed", error: String(e) });
    }
    return;
  }
  clearInterval(timer);
  dbFile?.close();
  dbFile = null;
  db?.close();
  db = null;
  reply({ t: "closed" });
};
