/** Messages between LibsqlStorage (main thread) and its writer worker. */
import type { AuditLink, PhysicalOp } from "./storage.ts";

export type WriterRequest =
  /** `walSignal`: shared with the checkpointer (see WAL_RESTART in libsql_checkpointer.ts). */
  | {
    t: "open";
    path: string;
    busyTimeoutMs: number;
    fullMode: string;
    walSignal: SharedArrayBuffer;
    /** SQLite's max_page_count for this connection (LibsqlOptions.maxPageCount). */
    maxPageCount?: number;
  }
  /** The audit HMAC key the writer links entries with; null forgets it (seal). */
  | { t: "audit-key"; key: Uint8Array | null }
  /** `audit`: entries as joinLines wrote them ("" for none). */
  | { t: "tx"; ops: PhysicalOp[]; audit: string; wantLinks: boolean }
  /** After a failed commit, the main thread has failed everything it had posted: go on. */
  | { t: "resume" }
  | { t: "close" };

export type WriterReply =
  | { t: "ready" }
  | { t: "failed"; error: string }
  /** `links`: with wantLinks, encodeLinks of every entry of the transaction, in order. */
  | { t: "done"; ok: true; links?: string }
  /** `refused`: not attempted, because a commit before it failed (it fails with that one). */
  | { t: "done"; ok: false; error: string; refused?: true }
  | { t: "closed" }
  /** At unseal: the chain's signed head was missing, behind or forged; an anomaly record says so. */
  | { t: "anomaly"; seq: number; error: string };

/** Messages between LibsqlStorage and its checkpointer worker. */
export type CheckpointerRequest =
  | {
    t: "open";
    path: string;
    busyTimeoutMs: number;
    intervalMs: number;
    walSignal: SharedArrayBuffer;
    restartFrames: number;
  }
  | { t: "close" };

export type CheckpointerReply =
  | { t: "ready" }
  | { t: "failed"; error: string }
  | { t: "closed" };

/**
 * Audit entries cross to the writer as one string, one per line: cloning one string is far cheaper
 * than an array of them. An entry is canonical JSON, which escapes every control character, so it
 * holds no newline.
 */
export function joinLines(entries: string[]): string {
  let out = "";
  for (const e of entries) out += e + "\n";
  return out;
}

/** Calls `f` with each line of `text`; a last line without its "\n" (edited text) counts too. */
export function forEachLine(text: string, f: (line: string) => void): void {
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf("\n", at);
    if (end === -1) end = text.length;
    f(text.slice(at, end));
    at = end + 1;
  }
}

/** Links as text, one per line: seq, prev hash, hash, mac (a number and hex), tab-separated. */
export function encodeLink(l: AuditLink): string {
  return `${l.seq}\t${l.prevHash}\t${l.hash}\t${l.mac}\n`;
}

export function decodeLinks(text: string): AuditLink[] {
  const out: AuditLink[] = [];
  forEachLine(text, (line) => {
    const [seq, prevHash, hash, mac] = line.split("\t");
    out.push({ seq: Number(seq), prevHash: prevHash!, hash: hash!, mac: mac! });
  });
  return out;
}

/**
 * Int32 slots of the buffer the writer and the checkpointer share. WAL_RESTART: set by the
 * checkpointer when it has copied a WAL larger than it should be; the writer, between two
 * transactions, finishes the copy and so lets the next transaction restart the WAL from the top.
 */
export const WAL_RESTART = 0;
export const WAL_SIGNAL_BYTES = 4;
