/**
 * WAL checkpoints for the libSQL file, in a worker thread of their own. A checkpoint copies WAL
 * frames into the database file and fsyncs it: run by the writer (SQLite's auto-checkpoint) it
 * took 10–18 ms every few thousand audited reads, and every request waiting on the writer
 * stalled that long (the kv_read p99). PASSIVE never takes the writer's lock, so commits go on
 * while this thread copies; the writer restarts the WAL from the top once it is all copied.
 */
/// <reference lib="deno.worker" />
import { openDb } from "./libsql_schema.ts";
import type { CheckpointerReply, CheckpointerRequest } from "./libsql_protocol.ts";
import type Database from "libsql";

/**
 * Past this many frames (4 KiB pages) left uncopied, the WAL is not shrinking under PASSIVE
 * (writes never pause): RESTART waits for the writer once, so the file cannot grow unbounded.
 */
const FORCE_RESTART_FRAMES = 65_536;

let db: Database.Database | null = null;
let timer: ReturnType<typeof setInterval> | undefined;
// deno-lint-ignore no-explicit-any
let passive: any;

function reply(m: CheckpointerReply): void {
  self.postMessage(m);
}

function tick(): void {
  if (!db) return;
  try {
    const [, log, copied] = passive.get() as [number, number, number];
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
