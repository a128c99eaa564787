/** Messages between LibsqlStorage (main thread) and its writer worker. */
import type { AuditRow, PhysicalOp } from "./storage.ts";

export type WriterRequest =
  | { t: "open"; path: string; busyTimeoutMs: number; fullMode: string }
  /** `audit`: rows as encodeAuditRows wrote them ("" for none). */
  | { t: "tx"; ops: PhysicalOp[]; audit: string }
  | { t: "close" };

export type WriterReply =
  | { t: "ready" }
  | { t: "failed"; error: string }
  | { t: "done"; ok: true }
  | { t: "done"; ok: false; error: string; head: { seq: number; hash: string } }
  | { t: "closed" };

/** Messages between LibsqlStorage and its checkpointer worker. */
export type CheckpointerRequest =
  | { t: "open"; path: string; busyTimeoutMs: number; intervalMs: number }
  | { t: "close" };

export type CheckpointerReply =
  | { t: "ready" }
  | { t: "failed"; error: string }
  | { t: "closed" };

/**
 * Audit rows as text, one per line: seq, prev hash, hash, mac, entry JSON, tab-separated. The
 * entry is canonical JSON, which escapes every control character, so it holds no tab or newline;
 * the other fields are a number and hex.
 */
export function encodeAuditRows(rows: AuditRow[]): string {
  let out = "";
  for (const r of rows) {
    const json = r.entryJson ?? JSON.stringify(r.entry);
    out += `${r.seq}\t${r.prevHash}\t${r.hash}\t${r.mac}\t${json}\n`;
  }
  return out;
}

/** Calls `row` for each line encodeAuditRows wrote. */
export function forEachAuditRow(
  text: string,
  row: (seq: number, prevHash: string, hash: string, mac: string, entryJson: string) => void,
): void {
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf("\n", at);
    const t1 = text.indexOf("\t", at);
    const t2 = text.indexOf("\t", t1 + 1);
    const t3 = text.indexOf("\t", t2 + 1);
    const t4 = text.indexOf("\t", t3 + 1);
    row(
      Number(text.slice(at, t1)),
      text.slice(t1 + 1, t2),
      text.slice(t2 + 1, t3),
      text.slice(t3 + 1, t4),
      text.slice(t4 + 1, end),
    );
    at = end + 1;
  }
}
