/**
 * Audit records stored in blocks (core/storage/audit_block.ts): lines decode to the records they
 * encode, a line that does not parse is reported at its place in the chain, reading pages through
 * many blocks and from a given seq, and a database written before blocks existed (its records in
 * the `audit` table) goes on linking where it stopped.
 */
import assert from "node:assert/strict";
import Database from "libsql";
import { decodeAuditBlock, encodeAuditLine } from "../../core/storage/audit_block.ts";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { ChainLinker, GENESIS_HEAD } from "../../core/audit/chain.ts";
import { verifyChain, verifyStoredChain } from "../../core/audit/verify.ts";
import type { AuditRecord } from "../../core/audit/entry.ts";
import type { AuditLink } from "../../core/storage/storage.ts";

const KEY = new Uint8Array(32).fill(9);
const entry = (n: number) => JSON.stringify({ n, path: `secret/data/${n}` });

Deno.test("audit block lines decode to the records they encode; a bad line keeps its place", () => {
  const linker = new ChainLinker(KEY, GENESIS_HEAD);
  const links = [1, 2, 3].map((n) => linker.link(entry(n)));
  const text = links.map((l, i) => encodeAuditLine(l, entry(i + 1))).join("");
  const rows = [...decodeAuditBlock(1, text)];
  assert.deepEqual(rows.map((r) => [r.seq, r.prevHash, r.hash, r.mac, r.entry.n]), [
    ...links.map((l, i) => [l.seq, l.prevHash, l.hash, l.mac, i + 1]),
  ]);
  assert.ok(verifyChain(rows as AuditRecord[], KEY).ok);
  assert.deepEqual([...decodeAuditBlock(1, text, 3)].map((r) => r.seq), [3]);

  // The second line cut short: it is malformed, and verify names seq 2 whatever it claimed.
  const lines = text.split("\n");
  lines[1] = lines[1]!.slice(0, -2);
  const cut = [...decodeAuditBlock(1, lines.join("\n"))];
  assert.equal(cut.length, 3);
  assert.equal(cut[1]!.prevHash, "");
  const v = verifyChain(cut as AuditRecord[], KEY);
  assert.deepEqual([v.ok, v.firstBadSeq, v.reason], [false, 2, "malformed row"]);
  // Lines that parse but are not records (a number, an array of the wrong shape) are malformed too.
  for (const bad of ["7", `[2,"a","b","c"]`, `[2,"a","b","c",[]]`, `["2","a","b","c",{}]`]) {
    lines[1] = bad;
    const r = verifyChain([...decodeAuditBlock(1, lines.join("\n"))] as AuditRecord[], KEY);
    assert.deepEqual([r.ok, r.firstBadSeq], [false, 2], bad);
  }
  linker.wipe();
});

Deno.test("auditRows pages through many blocks, from the start or from a seq", async () => {
  const dir = await Deno.makeTempDir();
  const s = await LibsqlStorage.open(`${dir}/a.db`);
  try {
    s.setAuditKey(KEY);
    // One transaction at a time: each is a block of two records (more blocks than one page).
    for (let n = 1; n <= 300; n += 2) await s.transaction([], [entry(n), entry(n + 1)]);
    const rows = [...s.auditRows()] as unknown as AuditRecord[];
    assert.equal(rows.length, 300);
    assert.deepEqual(rows.map((r) => r.entry.n), Array.from({ length: 300 }, (_, i) => i + 1));
    const v = verifyChain(rows, KEY, { expectHead: await s.auditHead() });
    assert.deepEqual([v.ok, v.checked], [true, 300]);
    // From the middle of a block.
    const tail = [...s.auditRows(160)];
    assert.deepEqual([tail[0]!.seq, tail.length], [160, 141]);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A file as the first schema left it: records one per row in `audit`. */
function v1Database(file: string): Database.Database {
  const db = new Database(file);
  db.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
    CREATE TABLE kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE audit (seq INTEGER PRIMARY KEY, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
      mac TEXT NOT NULL, entry TEXT NOT NULL);
    INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00Z');`);
  return db;
}

Deno.test("a database with records in the v1 audit table goes on linking after them", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/a.db`;
  try {
    const db = v1Database(file);
    const linker = new ChainLinker(KEY, GENESIS_HEAD);
    const old: AuditLink[] = [];
    const OLD = 1030; // more than one page of `audit` rows
    const insert = db.prepare("INSERT INTO audit VALUES (?, ?, ?, ?, ?)");
    db.exec("BEGIN");
    for (let n = 1; n <= OLD; n++) {
      const l = linker.link(entry(n));
      old.push(l);
      insert.run(
        l.seq,
        l.prevHash,
        l.hash,
        l.mac,
        entry(n),
      );
    }
    db.exec("COMMIT");
    linker.wipe();
    db.close();

    const s = await LibsqlStorage.open(file);
    try {
      assert.deepEqual(await s.auditHead(), { seq: OLD, hash: old[OLD - 1]!.hash });
      // Before the first unseal such a file has no signed head: verify cannot rule out a cut.
      assert.match(verifyStoredChain(s, KEY).reason ?? "", /no audit head record/);
      s.setAuditKey(KEY);
      const links = await s.transaction([], [entry(OLD + 2), entry(OLD + 3)], true) as AuditLink[];
      // At unseal the writer notes, in the chain, that it found no head to check the end against.
      assert.deepEqual(links.map((l) => l.seq), [OLD + 2, OLD + 3]);
      const rows = [...s.auditRows()] as unknown as AuditRecord[];
      const note = rows[OLD]!;
      assert.deepEqual([note.seq, note.prevHash, note.entry.type], [
        OLD + 1,
        old[OLD - 1]!.hash,
        "anomaly",
      ]);
      assert.match(String(note.entry.error), new RegExp(`no audit head record .*after seq ${OLD}`));
      assert.deepEqual(
        rows.map((r) => r.entry.n ?? OLD + 1),
        Array.from({ length: OLD + 3 }, (_, i) => i + 1),
      );
      const v = verifyStoredChain(s, KEY);
      assert.deepEqual([v.ok, v.checked], [true, OLD + 3]);
      assert.deepEqual([...s.auditRows(OLD - 1)].map((r) => r.seq), [
        OLD - 1,
        OLD,
        OLD + 1,
        OLD + 2,
        OLD + 3,
      ]);
      assert.deepEqual([...s.auditRows(OLD + 3)].map((r) => r.seq), [OLD + 3]);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a v1 audit row whose entry is not JSON is a malformed row at its seq, not a crash", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/a.db`;
  try {
    const db = v1Database(file);
    const linker = new ChainLinker(KEY, GENESIS_HEAD);
    const insert = db.prepare("INSERT INTO audit VALUES (?, ?, ?, ?, ?)");
    for (let n = 1; n <= 5; n++) {
      const l = linker.link(entry(n));
      insert.run(l.seq, l.prevHash, l.hash, l.mac, n === 3 ? "{not json" : entry(n));
    }
    linker.wipe();
    db.close();
    const s = await LibsqlStorage.open(file);
    try {
      const v = verifyChain([...s.auditRows()] as AuditRecord[], KEY);
      assert.deepEqual([v.ok, v.firstBadSeq, v.reason], [false, 3, "malformed row"]);
    } finally {
      await s.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a block line edited without changing what it parses to is named at its seq", () => {
  const linker = new ChainLinker(KEY, GENESIS_HEAD);
  const e = (n: number) => JSON.stringify({ n, operation: "read", status: 200 });
  const links = [1, 2, 3].map((n) => linker.link(e(n)));
  linker.wipe();
  const lines = links.map((l, i) => encodeAuditLine(l, e(i + 1)).slice(0, -1));
  const verifyWith = (line2: string) =>
    verifyChain(
      [...decodeAuditBlock(1, [lines[0], line2, lines[2]].join("\n"))] as AuditRecord[],
      KEY,
    );
  assert.equal(verifyWith(lines[1]!).ok, true);
  for (
    const edited of [
      lines[1]!.replace('"operation":', '"operation": '),
      lines[1]!.replace('"status":200', '"status":2e2'),
      lines[1]!.replace('"read"', '"\\u0072ead"'),
      lines[1]!.replace("[2,", "[2 ,"),
      lines[1]!.replace("[2,", "[2.0,"),
      lines[1]! + " ",
    ]
  ) {
    assert.notEqual(edited, lines[1]);
    const v = verifyWith(edited);
    assert.deepEqual([v.ok, v.firstBadSeq], [false, 2], edited);
  }
});
