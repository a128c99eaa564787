/**
 * Edits audit records in a database file the way an attacker with the file would: the text of
 * a block (core/storage/audit_block.ts) is rewritten in place, its columns left as they were.
 */
import type Database from "libsql";

/** The block that holds `seq`, and a way to put a replacement text (or the original) back. */
export function auditBlock(
  db: Database.Database,
  seq: number,
): { firstSeq: number; lines: string; put: (lines: string) => void } {
  // The server's writer may hold the lock for a moment.
  db.exec("PRAGMA busy_timeout = 5000");
  const block = db.prepare(
    "SELECT first_seq, lines FROM audit_block WHERE first_seq <= ? AND last_seq >= ?",
  ).get(seq, seq) as { first_seq: number; lines: string } | undefined;
  if (!block) throw new Error(`no audit block holds seq ${seq}`);
  return {
    firstSeq: block.first_seq,
    lines: block.lines,
    put: (lines: string) => {
      db.prepare("UPDATE audit_block SET lines = ? WHERE first_seq = ?").run(
        lines,
        block.first_seq,
      );
    },
  };
}

/** The record's line, and a way to put a replacement (or the original) back. */
export function auditLine(
  db: Database.Database,
  seq: number,
): { line: string; put: (line: string) => void } {
  const block = auditBlock(db, seq);
  const lines = block.lines.split("\n");
  const i = seq - block.firstSeq;
  return {
    line: lines[i]!,
    put: (line: string) => block.put(lines.with(i, line).join("\n")),
  };
}
