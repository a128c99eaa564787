import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { AuditChain, GENESIS_HEAD } from "../../core/audit/chain.ts";
import {
  type AuditInput,
  type AuditRecord,
  canonicalize,
  GENESIS_HASH,
  hmacString,
} from "../../core/audit/entry.ts";
import { verifyChain } from "../../core/audit/verify.ts";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
const OTHER_KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 0xff);
const SECRET_MARK = "pw-plaintext-";
const ACCESSOR_MARK = "accessor-raw-";

const ENTRY_FIELDS = [
  "data",
  "error",
  "operation",
  "path",
  "policies",
  "remote_address",
  "request_id",
  "result",
  "status",
  "time",
  "token_accessor",
  "type",
];
const ROW_FIELDS = ["seq", "prevHash", "hash", "mac"] as const;

function input(i: number, overrides: Partial<AuditInput> = {}): AuditInput {
  const full: AuditInput = {
    type: i % 2 === 0 ? "response" : "request",
    time: `2026-11-02T10:00:${String(i % 60).padStart(2, "0")}.123Z`,
    requestId: `req-${Math.floor(i / 2)}`,
    operation: i % 3 === 0 ? "read" : "update",
    path: `secret/data/app${i}`,
    remoteAddress: `10.0.0.${i % 250}`,
    tokenAccessor: ACCESSOR_MARK + (i % 4),
    policies: ["default", `app-${i % 5}`],
    result: i % 7 === 0 ? "denied" : "ok",
    status: 200 + (i % 5),
    error: `permission denied on ${i}`,
    data: {
      password: SECRET_MARK + i,
      nested: { list: ["x" + i, i, true, null], flag: false },
      count: i,
    },
  };
  return { ...full, ...overrides };
}

/** 50 rows; a few omit the optional fields so both shapes are exercised. */
function buildRows(n = 50, chain = new AuditChain(KEY, GENESIS_HEAD)): AuditRecord[] {
  const rows: AuditRecord[] = [];
  for (let i = 1; i <= n; i++) {
    const extra = i % 10 === 3 ? { status: undefined, error: undefined, data: undefined } : {};
    rows.push(chain.append(input(i, extra)));
  }
  return rows;
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v));
}

/** Changes exactly one character; hex stays hex so format checks cannot mask the hash checks. */
function editChar(s: string): string {
  assert.ok(s.length > 0, "cannot edit an empty string");
  const i = Math.floor(s.length / 2);
  const c = s[i];
  const hex = "0123456789abcdef";
  const j = hex.indexOf(c);
  const r = j >= 0 ? hex[(j + 1) % 16] : String.fromCharCode(c.charCodeAt(0) ^ 1);
  return s.slice(0, i) + r + s.slice(i + 1);
}

/** One-byte edit of any stored value: a char of a string, a digit of a number, a leaf of a tree. */
function editValue(v: unknown): unknown {
  if (typeof v === "string") return editChar(v);
  if (typeof v === "number") return v % 10 === 9 ? v - 1 : v + 1;
  if (Array.isArray(v)) {
    const i = v.findIndex((x) => typeof x === "string" || typeof x === "number");
    assert.ok(i >= 0, "array has no editable leaf");
    const out = [...v];
    out[i] = editValue(v[i]);
    return out;
  }
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    const k = Object.keys(o).sort()[0];
    return { ...o, [k]: editValue(o[k]) };
  }
  throw new Error(`no one-byte edit for ${typeof v}`);
}

function expectBad(rows: AuditRecord[], seq: number, reason?: RegExp, key = KEY): void {
  const res = verifyChain(rows, key);
  assert.equal(res.ok, false, "tampering went undetected");
  assert.equal(res.firstBadSeq, seq, `named ${res.firstBadSeq} (${res.reason}), expected ${seq}`);
  assert.ok(res.checked < rows.length);
  if (reason) assert.match(res.reason ?? "", reason);
}

Deno.test("a fresh chain of 50 entries verifies", () => {
  const rows = buildRows();
  assert.deepEqual(verifyChain(rows, KEY), { ok: true, checked: 50, firstBadSeq: null });
  assert.deepEqual(rows.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i + 1));
  assert.equal(rows[0].prevHash, GENESIS_HASH);
  for (let i = 1; i < rows.length; i++) assert.equal(rows[i].prevHash, rows[i - 1].hash);
});

Deno.test("verification survives the JSON round trip storage puts records through", () => {
  assert.deepEqual(verifyChain(clone(buildRows()), KEY), {
    ok: true,
    checked: 50,
    firstBadSeq: null,
  });
});

Deno.test("hash and mac follow the documented formulas (independent recomputation)", () => {
  const rows = buildRows(5);
  for (const r of rows) {
    const want = createHash("sha256")
      .update(r.prevHash + canonicalize({ seq: r.seq, entry: r.entry }))
      .digest("hex");
    assert.equal(r.hash, want);
    assert.equal(r.mac, createHmac("sha256", KEY).update(r.hash).digest("hex"));
  }
});

Deno.test("entries carry every field, HMAC'd where required, and no raw secret", () => {
  const rows = buildRows();
  const r = rows[23];
  assert.deepEqual(Object.keys(r.entry).sort(), ENTRY_FIELDS);
  assert.equal(r.entry.token_accessor, hmacString(KEY, ACCESSOR_MARK + (24 % 4)));
  assert.deepEqual(r.entry.data, {
    password: hmacString(KEY, SECRET_MARK + 24),
    nested: { list: [hmacString(KEY, "x24"), hmacString(KEY, "24"), true, null], flag: false },
    count: hmacString(KEY, "24"),
  });
  assert.equal(r.entry.path, "secret/data/app24");
  assert.deepEqual(r.entry.policies, ["default", "app-4"]);
  const all = JSON.stringify(rows);
  assert.ok(!all.includes(SECRET_MARK), "raw secret leaked into the audit log");
  assert.ok(!all.includes(ACCESSOR_MARK), "raw accessor leaked into the audit log");
  // Optional fields are left out, not stored as null.
  assert.deepEqual(
    Object.keys(rows[2].entry).sort(),
    ENTRY_FIELDS.filter((f) => !["data", "error", "status"].includes(f)),
  );
});

for (const pos of [1, 25, 50]) {
  for (const field of ENTRY_FIELDS) {
    Deno.test(`editing one byte of entry.${field} in row ${pos} names seq ${pos}`, () => {
      const rows = clone(buildRows());
      assert.equal(verifyChain(rows, KEY).ok, true);
      const before = JSON.stringify(rows[pos - 1]);
      rows[pos - 1].entry[field] = editValue(rows[pos - 1].entry[field]);
      assert.notEqual(JSON.stringify(rows[pos - 1]), before, "the edit changed nothing");
      expectBad(rows, pos, /hash does not match/);
    });
  }
  for (const field of ROW_FIELDS) {
    Deno.test(`editing one byte of ${field} in row ${pos} names seq ${pos}`, () => {
      const rows = clone(buildRows());
      const row = rows[pos - 1] as unknown as Record<string, unknown>;
      const before = row[field];
      row[field] = editValue(before);
      assert.notEqual(row[field], before);
      // A forged mac fails only the mac check; everything else breaks the recomputed hash.
      expectBad(rows, pos, field === "mac" ? /mac does not match/ : /hash does not match/);
    });
  }
}

Deno.test("editing a redacted string deep inside data is detected", () => {
  const rows = clone(buildRows());
  const data = rows[39].entry.data as { nested: { list: string[] } };
  data.nested.list[0] = editChar(data.nested.list[0]);
  expectBad(rows, 40, /hash does not match/);
});

Deno.test("adding, removing or retyping an entry field is detected", () => {
  const add = clone(buildRows());
  add[9].entry.extra = "x";
  expectBad(add, 10);

  const remove = clone(buildRows());
  delete remove[9].entry.error;
  expectBad(remove, 10);

  const retype = clone(buildRows());
  retype[9].entry.status = String(retype[9].entry.status);
  expectBad(retype, 10);

  const nullify = clone(buildRows());
  nullify[9].entry.data = null;
  expectBad(nullify, 10);
});

Deno.test("a malformed row is named by its position", () => {
  const rows = clone(buildRows()) as unknown as Record<string, unknown>[];
  rows[11].hash = (rows[11].hash as string).toUpperCase();
  expectBad(rows as unknown as AuditRecord[], 12, /malformed/);
  const rows2 = clone(buildRows()) as unknown as Record<string, unknown>[];
  rows2[11].seq = "12";
  expectBad(rows2 as unknown as AuditRecord[], 12, /malformed/);
});

Deno.test("deleting a middle row names the missing seq", () => {
  const rows = buildRows();
  rows.splice(24, 1); // seq 25
  expectBad(rows, 25, /gap: expected 25, found 26/);
});

Deno.test("deleting the first row names seq 1", () => {
  const rows = buildRows();
  rows.shift();
  expectBad(rows, 1, /gap/);
});

Deno.test("deleting trailing rows is caught only against an expected head", () => {
  const rows = buildRows();
  const head = { seq: rows[49].seq, hash: rows[49].hash };
  const cut = rows.slice(0, 47);
  // Without an anchor a truncated log is just a shorter log: documented, not hidden.
  assert.equal(verifyChain(cut, KEY).ok, true);
  const res = verifyChain(cut, KEY, { expectHead: head });
  assert.equal(res.ok, false);
  assert.equal(res.firstBadSeq, 48);
  assert.match(res.reason ?? "", /truncated/);
  assert.deepEqual(verifyChain(rows, KEY, { expectHead: head }), {
    ok: true,
    checked: 50,
    firstBadSeq: null,
  });
  const wrongHash = verifyChain(rows, KEY, { expectHead: { seq: 50, hash: rows[48].hash } });
  assert.equal(wrongHash.firstBadSeq, 50);
  // Rows after the head were committed after it was read: left for the next verify.
  assert.deepEqual(verifyChain(rows, KEY, { expectHead: { seq: 45, hash: rows[44].hash } }), {
    ok: true,
    checked: 45,
    firstBadSeq: null,
  });
});

Deno.test("swapping two rows is detected", () => {
  const rows = buildRows();
  [rows[24], rows[25]] = [rows[25], rows[24]];
  expectBad(rows, 25, /gap/);
  const ends = buildRows();
  [ends[0], ends[49]] = [ends[49], ends[0]];
  expectBad(ends, 1, /gap/);
});

Deno.test("a replayed (duplicated) row is detected", () => {
  const rows = buildRows();
  rows.splice(30, 0, rows[29]); // seq 30 twice
  expectBad(rows, 31, /out of order/);
});

Deno.test("a validly signed row from a fork does not link", () => {
  const rows = buildRows();
  const fork = new AuditChain(KEY, { seq: 24, hash: rows[22].hash });
  const forged = fork.append(input(25, { path: "secret/data/forged" }));
  assert.equal(forged.seq, 25);
  rows[24] = forged;
  expectBad(rows, 25, /prevHash does not link/);
});

Deno.test("a row from the same head but another writer breaks the next link", () => {
  const rows = buildRows();
  const other = new AuditChain(KEY, { seq: 24, hash: rows[23].hash });
  rows[24] = other.append(input(25, { path: "secret/data/other" }));
  expectBad(rows, 26, /prevHash does not link/);
});

Deno.test("the wrong key fails at seq 1", () => {
  expectBad(buildRows(), 1, /mac does not match/, OTHER_KEY);
});

Deno.test("an empty log verifies trivially", () => {
  assert.deepEqual(verifyChain([], KEY), { ok: true, checked: 0, firstBadSeq: null });
});

Deno.test("resuming from a stored head continues one verifiable chain", () => {
  const first = new AuditChain(KEY, GENESIS_HEAD);
  const rows = buildRows(20, first);
  const last = rows[rows.length - 1];
  assert.deepEqual(first.head, { seq: 20, hash: last.hash });
  const resumed = new AuditChain(KEY, { seq: last.seq, hash: last.hash });
  for (let i = 21; i <= 50; i++) rows.push(resumed.append(input(i)));
  assert.equal(rows[20].seq, 21);
  assert.equal(rows[20].prevHash, last.hash);
  assert.deepEqual(verifyChain(rows, KEY), { ok: true, checked: 50, firstBadSeq: null });
  // The tail alone verifies as a segment anchored at the stored head.
  assert.deepEqual(verifyChain(rows.slice(20), KEY, { from: { seq: 20, hash: last.hash } }), {
    ok: true,
    checked: 30,
    firstBadSeq: null,
  });
  // Resuming from a wrong head produces rows that do not link.
  const wrong = new AuditChain(KEY, { seq: 20, hash: rows[18].hash });
  const bad = [...rows.slice(0, 20), wrong.append(input(21))];
  expectBad(bad, 21, /prevHash/);
});

Deno.test("reset rolls the head back past records whose batch failed", () => {
  const chain = new AuditChain(KEY, GENESIS_HEAD);
  const committed = buildRows(10, chain);
  const saved = chain.head;
  const lost = [chain.append(input(11)), chain.append(input(12))];
  chain.reset(saved);
  assert.deepEqual(chain.head, saved);
  const retried = [
    chain.append(input(11, { requestId: "retry-11" })),
    chain.append(input(12, { requestId: "retry-12" })),
  ];
  assert.notEqual(retried[0].hash, lost[0].hash);
  assert.equal(retried[0].seq, 11);
  assert.deepEqual(verifyChain([...committed, ...retried], KEY).ok, true);
  // A leftover record from the failed batch cannot be spliced in.
  expectBad([...committed, lost[0], retried[1]], 12, /prevHash/);
});

Deno.test("a failed append leaves the head where it was", () => {
  const chain = new AuditChain(KEY, GENESIS_HEAD);
  chain.append(input(1));
  const head = chain.head;
  let deep: Record<string, unknown> = { v: "x" };
  for (let i = 0; i < 500; i++) deep = { d: deep };
  assert.throws(() => chain.append(input(2, { data: deep })), RangeError);
  assert.deepEqual(chain.head, head);
  const next = chain.append(input(2));
  assert.equal(next.seq, 2);
});

Deno.test("the head is a copy and bad heads or keys are refused", () => {
  const chain = new AuditChain(KEY, GENESIS_HEAD);
  const h = chain.head;
  h.seq = 99;
  assert.equal(chain.head.seq, 0);
  assert.throws(() => new AuditChain(KEY, { seq: 0, hash: "1".repeat(64) }), TypeError);
  assert.throws(() => new AuditChain(KEY, { seq: -1, hash: GENESIS_HASH }), TypeError);
  assert.throws(() => new AuditChain(KEY, { seq: 1.5, hash: "a".repeat(64) }), TypeError);
  assert.throws(() => new AuditChain(KEY, { seq: 3, hash: "xyz" }), TypeError);
  assert.throws(() => chain.reset({ seq: 2, hash: "A".repeat(64) }), TypeError);
  assert.throws(() => new AuditChain(new Uint8Array(16), GENESIS_HEAD), TypeError);
  assert.throws(() => verifyChain([], new Uint8Array(0)), TypeError);
});

Deno.test("the chain copies the key and stops after wipe", () => {
  const key = KEY.slice();
  const chain = new AuditChain(key, GENESIS_HEAD);
  key.fill(0); // the caller zeroing its copy must not change what the chain signs with
  const rows = [chain.append(input(1)), chain.append(input(2))];
  assert.equal(verifyChain(rows, KEY).ok, true);
  chain.wipe();
  assert.throws(() => chain.append(input(3)), /wiped/);
  assert.equal(chain.head.seq, 2);
});

Deno.test("an unauthenticated request keeps an empty accessor", () => {
  const chain = new AuditChain(KEY, GENESIS_HEAD);
  const r = chain.append(input(1, { tokenAccessor: "", policies: [] }));
  assert.equal(r.entry.token_accessor, "");
  assert.equal(verifyChain([r], KEY).ok, true);
});
