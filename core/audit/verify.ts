import {
  type ChainHead,
  checkAuditKey,
  checkHead,
  GENESIS_HEAD,
  headIsSigned,
  type SignedHead,
} from "./chain.ts";
import { AuditHmac, type AuditRecord, canonicalize, recordHashFromJson } from "./entry.ts";

export interface VerifyResult {
  ok: boolean;
  checked: number;
  firstBadSeq: number | null;
  reason?: string;
  /**
   * "anomaly" records among the verified ones: written at unseal when the chain's signed head
   * was missing, behind or forged (records may have been removed while the server was down).
   * The chain verifies from there on, so only these records keep the removal in view. Absent
   * when there are none.
   */
  anomalies?: { seq: number; error: string }[];
}

/** Anomaly records reported by one verify, at most. */
const MAX_ANOMALIES = 100;

export interface VerifyOptions {
  /** Head just before the first row, to verify a segment; defaults to the genesis head. */
  from?: ChainHead;
  /**
   * The head the writer last committed (its signed head row). Without it, deleting rows from the
   * end of the log is indistinguishable from a shorter log. Rows after it are not checked: they
   * were committed after the head was read.
   */
  expectHead?: ChainHead;
  /**
   * Rows after `expectHead`: "ignore" (online: committed after the head was read) or "refuse"
   * (offline: nothing is committing, so a row past the head was put there by hand).
   */
  afterHead?: "ignore" | "refuse";
}

const HEX64 = /^[0-9a-f]{64}$/;

function isWellFormed(row: unknown): row is AuditRecord {
  if (typeof row !== "object" || row === null) return false;
  const r = row as Record<string, unknown>;
  return Number.isSafeInteger(r.seq) &&
    typeof r.prevHash === "string" && HEX64.test(r.prevHash) &&
    typeof r.hash === "string" && HEX64.test(r.hash) &&
    typeof r.mac === "string" && HEX64.test(r.mac) &&
    typeof r.entry === "object" && r.entry !== null && !Array.isArray(r.entry);
}

/**
 * Recomputes every hash and mac from scratch over rows in seq order; names the first bad seq
 * (edited field, edited hash, edited mac, gap in seq, reordered rows, broken prevHash link, deleted row).
 *
 * firstBadSeq is the seq the row at that position should have had: for a gap, the first missing
 * seq.
 */
export function verifyChain(
  rows: Iterable<AuditRecord>,
  key: Uint8Array,
  options: VerifyOptions = {},
): VerifyResult {
  checkAuditKey(key);
  const hmac = new AuditHmac(key);
  const from = checkHead(options.from ?? GENESIS_HEAD);
  let prevSeq = from.seq;
  let prevHash = from.hash;
  let checked = 0;
  const anomalies: { seq: number; error: string }[] = [];
  const bad = (seq: number, reason: string): VerifyResult => ({
    ok: false,
    checked,
    firstBadSeq: seq,
    reason,
    ...(anomalies.length ? { anomalies } : {}),
  });

  const end = options.expectHead;
  for (const row of rows) {
    if (end !== undefined && prevSeq >= end.seq) {
      if (options.afterHead === "refuse") {
        return bad(end.seq + 1, `records after the audit head at seq ${end.seq}`);
      }
      break;
    }
    const want = prevSeq + 1;
    if (!isWellFormed(row)) return bad(want, "malformed row");
    // Integrity of the row itself first: until its mac checks out, none of its fields (seq
    // included) can be trusted to say where the chain broke.
    const entryJson = canonicalize(row.entry);
    if (recordHashFromJson(row.prevHash, row.seq, entryJson) !== row.hash) {
      return bad(want, "hash does not match row contents");
    }
    if (hmac.hex(row.hash) !== row.mac) return bad(want, "mac does not match hash");
    // A stored line's text must be the canonical JSON its hash covers: an edit that parses to
    // the same value (a space, 2e2 for 200) is still an edit.
    if (row.entryJson !== undefined && row.entryJson !== entryJson) {
      return bad(want, "stored entry is not its canonical JSON (edited)");
    }
    if (row.seq > want) return bad(want, `seq gap: expected ${want}, found ${row.seq}`);
    if (row.seq < want) return bad(want, `seq out of order: expected ${want}, found ${row.seq}`);
    if (row.prevHash !== prevHash) return bad(want, "prevHash does not link to previous row");
    prevSeq = row.seq;
    prevHash = row.hash;
    checked++;
    if (row.entry.type === "anomaly" && anomalies.length < MAX_ANOMALIES) {
      anomalies.push({ seq: row.seq, error: String(row.entry.error ?? "") });
    }
  }

  if (end !== undefined) {
    if (prevSeq < end.seq) {
      return bad(prevSeq + 1, `truncated: ends at ${prevSeq}, head is ${end.seq}`);
    }
    if (prevHash !== end.hash) return bad(prevSeq, "last row does not match expected head hash");
  }
  return { ok: true, checked, firstBadSeq: null, ...(anomalies.length ? { anomalies } : {}) };
}

/**
 * Verifies a stored log against its signed head (online and offline). The head is read before the
 * rows, so records committed while verify runs are left for the next run instead of failing it.
 */
export function verifyStoredChain(
  storage: { auditSignedHead(): SignedHead | null; auditRows(): Iterable<unknown> },
  key: Uint8Array,
  opts: { offline?: boolean } = {},
): VerifyResult {
  const head = storage.auditSignedHead();
  const rows = storage.auditRows() as Iterable<AuditRecord>;
  if (head === null) {
    const r = verifyChain(rows, key);
    if (!r.ok || r.checked === 0) return r;
    return {
      ok: false,
      checked: r.checked,
      firstBadSeq: r.checked + 1,
      reason: "no audit head record: records may have been removed from the end " +
        "(or the database predates head records and has not been unsealed since)",
    };
  }
  if (!headIsSigned(key, head)) {
    return {
      ok: false,
      checked: 0,
      firstBadSeq: head.seq,
      reason: "audit head mac does not match",
    };
  }
  return verifyChain(rows, key, {
    expectHead: { seq: head.seq, hash: head.hash },
    afterHead: opts.offline ? "refuse" : "ignore",
  });
}

/** The API/CLI shape of a verify result (`GET sys/audit/verify`, `audit verify -db`). */
export function verifyResultView(r: VerifyResult): Record<string, unknown> {
  return {
    ok: r.ok,
    checked: r.checked,
    first_bad_seq: r.firstBadSeq,
    reason: r.reason ?? null,
    anomalies: r.anomalies ?? [],
  };
}
