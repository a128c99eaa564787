/**
 * How audit records are laid out in the libSQL file: one `audit_block` row per committed batch,
 * each record on a line of its own as `[seq,"prevHash","hash","mac",entry]`.
 *
 * Why blocks: inserting a row per record cost the writer thread ~4 µs a record, as much as the
 * request thread's whole share of a read's audit; a block of a batch's records is one insert.
 * Nothing is lost for tamper evidence: every line keeps its own seq, link, hash and mac, and
 * verify reads lines, not rows, so it still names the first bad record, whatever was edited
 * (a byte of a line, a line break, a block's columns).
 */
import type { AuditLink, AuditRow } from "./storage.ts";
import { forEachLine } from "./libsql_protocol.ts";

/** One record as a line. `entryJson` is canonical JSON, which holds no raw line break. */
export function encodeAuditLine(l: AuditLink, entryJson: string): string {
  return `[${l.seq},"${l.prevHash}","${l.hash}","${l.mac}",${entryJson}]\n`;
}

/**
 * A record whose line does not parse as one: verify reports it as malformed at the position it
 * takes in the chain (its own seq cannot be trusted).
 */
function malformed(seq: number): AuditRow {
  return { seq, prevHash: "", hash: "", mac: "", entry: {} };
}

function decodeLine(line: string, seq: number): AuditRow {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return malformed(seq);
  }
  if (!Array.isArray(v) || v.length !== 5) return malformed(seq);
  const [s, prevHash, hash, mac, entry] = v;
  if (
    typeof s !== "number" || typeof prevHash !== "string" || typeof hash !== "string" ||
    typeof mac !== "string" || typeof entry !== "object" || entry === null || Array.isArray(entry)
  ) {
    return malformed(seq);
  }
  // JSON.parse forgives what the writer never produces (spaces, 2e2 for 200, escaped letters),
  // and verify hashes what it parsed: so the stored text itself must be what the writer wrote.
  // The fixed head is compared here; the entry's text goes to verify, which canonicalises the
  // entry anyway and compares (one string comparison a line).
  const head = `[${s},"${prevHash}","${hash}","${mac}",`;
  if (!line.startsWith(head) || line.charCodeAt(line.length - 1) !== 0x5d) return malformed(seq);
  return { seq: s, prevHash, hash, mac, entry, entryJson: line.slice(head.length, -1) };
}

/**
 * The records of one block, from `fromSeq` on. A line's place in the block (`firstSeq` + index)
 * stands in for its seq when deciding what to skip, so an edited seq cannot hide a line.
 */
export function decodeAuditBlock(firstSeq: number, lines: string, fromSeq = 1): AuditRow[] {
  const out: AuditRow[] = [];
  let seq = firstSeq;
  forEachLine(lines, (line) => {
    if (seq >= fromSeq) out.push(decodeLine(line, seq));
    seq++;
  });
  return out;
}

/** A row of the v1 `audit` table (one record per row), as `SELECT seq, prev_hash, hash, mac, entry`. */
export type LegacyAuditRow = [number, string, string, string, string];

export function decodeLegacyAuditRow(r: LegacyAuditRow): AuditRow {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(r[4]);
  } catch {
    // An edited entry that is no JSON at all: verify names it "malformed row" at its place.
    return { seq: r[0], prevHash: "", hash: "", mac: "", entry: {} };
  }
  return { seq: r[0], prevHash: r[1], hash: r[2], mac: r[3], entry };
}
