/**
 * The storage writer links audit entries into the chain as it commits them: a transaction that
 * fails leaves no gap or fork (the next entries link to what is on disk), entries are refused
 * while no key is set (sealed), and links come back for sinks in entry order.
 */
import assert from "node:assert/strict";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { verifyChain } from "../../core/audit/verify.ts";
import type { AuditRecord } from "../../core/audit/entry.ts";
import type { AuditLink, PhysicalOp } from "../../core/storage/storage.ts";

const KEY = new Uint8Array(32).fill(7);
const entry = (n: number) => JSON.stringify({ n, path: `secret/data/${n}` });
/** A put the driver cannot bind: its commit fails. */
const UNBINDABLE = { op: "put", key: "x", value: { not: "bytes" } } as unknown as PhysicalOp;

/** A test body run against a fresh storage file, closed and removed afterwards. */
function withStorage(fn: (s: LibsqlStorage) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = await Deno.makeTempDir();
    const s = await LibsqlStorage.open(`${dir}/a.db`);
    try {
      await fn(s);
    } finally {
      await s.close();
      await Deno.remove(dir, { recursive: true });
    }
  };
}

Deno.test(
  "audit entries are linked in commit order; a failed transaction leaves no hole",
  withStorage(async (s) => {
    // No key yet (sealed): entries are refused, plain writes are not.
    await assert.rejects(s.transaction([], [entry(0)]), /audit key/);
    await s.transaction([{ op: "put", key: "k", value: new Uint8Array([1]) }]);

    s.setAuditKey(KEY);
    const first = await s.transaction([], [entry(1), entry(2)], true) as AuditLink[];
    assert.deepEqual(first.map((l) => l.seq), [1, 2]);
    assert.equal(first[1]!.prevHash, first[0]!.hash);
    // A commit that fails (a value the driver cannot bind) takes its entries with it…
    await assert.rejects(s.transaction([UNBINDABLE], [entry(3)]));
    // …and the next entries link to what is on disk, not to the lost ones.
    const [c1, c2] = await Promise.all([
      s.transaction([], [entry(4)], true),
      s.transaction([], [entry(5)], true),
    ]) as AuditLink[][];
    assert.equal(c1![0]!.seq, 3);
    assert.equal(c1![0]!.prevHash, first[1]!.hash);
    assert.equal(c2![0]!.seq, 4);
    const rows = [...s.auditRows()] as unknown as AuditRecord[];
    assert.deepEqual(rows.map((r) => r.entry.n), [1, 2, 4, 5]);
    assert.deepEqual(verifyChain(rows, KEY).ok, true);

    s.setAuditKey(null);
    await assert.rejects(s.transaction([], [entry(6)]), /audit key/);
  }),
);

Deno.test(
  "a key change takes effect in queue order: entries queued before a seal are still written",
  withStorage(async (s) => {
    s.setAuditKey(KEY);
    // One transaction in flight, one queued behind it, then the key goes (as on seal).
    const inflight = s.transaction([], [entry(1)]);
    const queued = s.transaction([], [entry(2)]);
    s.setAuditKey(null);
    const after = s.transaction([], [entry(3)]);
    await inflight;
    await queued;
    await assert.rejects(after, /audit key/);
    const rows = [...s.auditRows()] as unknown as AuditRecord[];
    assert.deepEqual(rows.map((r) => r.entry.n), [1, 2]);
  }),
);

Deno.test(
  "a batch already handed to the writer behind a failing one fails with it, and nothing of it lands",
  withStorage(async (s) => {
    s.setAuditKey(KEY);
    const before = s.batches;
    // Posted back to back: the second batch (enough requests to go behind one being committed)
    // reaches the writer before the first has failed.
    const failing = s.transaction([UNBINDABLE], [entry(1)]);
    const behind = [
      s.transaction([{ op: "put", key: "y", value: new Uint8Array([2]) }], [entry(2)]),
      ...Array.from({ length: 30 }, (_, i) => s.transaction([], [entry(10 + i)])),
    ];
    assert.equal(s.batches - before, 2, "the second batch is at the writer");
    await Promise.all(
      [failing, ...behind].map((p) => assert.rejects(p, /storage commit failed/)),
    );
    assert.equal(await s.get("y"), null);
    // Then the writer takes work again, linked to what is on disk.
    const [l] = await s.transaction([], [entry(3)], true) as AuditLink[];
    assert.equal(l!.seq, 1);
    const rows = [...s.auditRows()] as unknown as AuditRecord[];
    assert.deepEqual(rows.map((r) => r.entry.n), [3]);
  }),
);

Deno.test(
  "a batch larger than one insert statement keeps every entry, in order",
  withStorage(async (s) => {
    s.setAuditKey(KEY);
    // 37 = two full statements of 16 rows and a remainder of 5, then a single row.
    const n = Array.from({ length: 37 }, (_, i) => i + 1);
    const links = await s.transaction([], n.map(entry), true) as AuditLink[];
    assert.deepEqual(links.map((l) => l.seq), n);
    await s.transaction([], [entry(38)]);
    const rows = [...s.auditRows()] as unknown as AuditRecord[];
    assert.deepEqual(rows.map((r) => r.entry.n), [...n, 38]);
    assert.deepEqual(rows.map((r) => r.seq), [...n, 38]);
    assert.equal(verifyChain(rows, KEY).ok, true);
  }),
);

Deno.test(
  "behind a batch being committed, a small one waits for that commit instead of going alone",
  withStorage(async (s) => {
    s.setAuditKey(KEY);
    const before = s.batches;
    // Ten requests in one turn: the first goes at once; the other nine are too few for a
    // transaction of their own behind it, so they go together when it is committed.
    await Promise.all(Array.from({ length: 10 }, (_, i) => s.transaction([], [entry(i)])));
    assert.equal(s.batches - before, 2);
    // Enough of them, and the second batch goes to the writer while the first is committed.
    const many = Array.from({ length: 60 }, (_, i) => s.transaction([], [entry(100 + i)]));
    await Promise.all(many);
    assert.equal(s.batches - before, 2 + 3);
    const rows = [...s.auditRows()] as unknown as AuditRecord[];
    assert.equal(rows.length, 70);
    assert.deepEqual(verifyChain(rows, KEY).ok, true);
  }),
);
