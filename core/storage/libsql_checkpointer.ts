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
 * the few frames committed since (a few ms) and its next transaction restarts the WAL.
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

function reply(m: CheckpointerReply): void {
  self.postMessage(m);
}

function tick(): void {
  if (!db) return;
  try {
    const [busy, log, copied] = passive.get() as [number, number, number];
    if (busy === 0 && log > restartFrames && copied === log && signal) {
      Atomics.store(signal, WAL_RESTART, 1);
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
      timer = setInterval(tick, m.intervalMs);
      reply({ t: "ready" });
    } catch (e) {
      reply({ t: "failed", error: String(e) });
    }
    return;
  }
  clearInterval(timer);
  db?.close();
  db = null;
  reply({ t: "closed" });
};
