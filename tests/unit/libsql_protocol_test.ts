import assert from "node:assert/strict";
import { encodeAuditRows, forEachAuditRow } from "../../core/storage/libsql_protocol.ts";
import { canonicalize } from "../../core/audit/entry.ts";

Deno.test("audit rows survive the text hand-off to the writer, control characters included", () => {
  const entries = [
    { path: "secret/data/a\tb", error: "line1\nline2\r\u0000", n: 1 },
    { path: "ünïcødé 😀 \u2028", list: ["\t", "\n"] },
    {},
  ];
  const rows = entries.map((e, i) => ({
    seq: 41 + i,
    prevHash: String(i).repeat(64),
    hash: "ab".repeat(32),
    mac: "cd".repeat(32),
    entry: e,
    entryJson: i === 2 ? undefined : canonicalize(e),
  }));
  const seen: unknown[] = [];
  forEachAuditRow(encodeAuditRows(rows), (seq, prevHash, hash, mac, json) => {
    seen.push({ seq, prevHash, hash, mac, entry: JSON.parse(json) });
  });
  assert.deepEqual(
    seen,
    rows.map(({ seq, prevHash, hash, mac, entry }) => ({ seq, prevHash, hash, mac, entry })),
  );
  let calls = 0;
  forEachAuditRow("", () => calls++);
  assert.equal(calls, 0);
});
