import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditChain, GENESIS_HEAD } from "../../core/audit/chain.ts";
import type { AuditInput, AuditRecord } from "../../core/audit/entry.ts";
import { FileSink } from "../../core/audit/file_sink.ts";
import { verifyChain } from "../../core/audit/verify.ts";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 17 + 5) & 0xff);

function input(i: number): AuditInput {
  return {
    type: i % 2 ? "request" : "response",
    time: "2026-11-02T10:00:00Z",
    requestId: `r${i}`,
    operation: "update",
    path: "secret/data/db",
    remoteAddress: "127.0.0.1",
    tokenAccessor: "acc-1",
    policies: ["default"],
    result: "ok",
    status: 200,
    data: { password: `plaintext-${i}\nwith newline` },
  };
}

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "audit-sink-"));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function readRows(path: string): AuditRecord[] {
  const text = readFileSync(path, "utf8");
  assert.ok(text.endsWith("\n"));
  return text.slice(0, -1).split("\n").map((l) => JSON.parse(l));
}

Deno.test("FileSink writes one verifiable record per line and appends across reopen", () => {
  withDir((dir) => {
    const path = join(dir, "audit.log");
    const chain = new AuditChain(KEY, GENESIS_HEAD);
    const sink = new FileSink(path);
    for (let i = 1; i <= 10; i++) sink.write(chain.append(input(i)));
    sink.close();
    assert.equal(statSync(path).mode & 0o777, 0o600);

    const again = new FileSink(path, { fsync: true });
    for (let i = 11; i <= 15; i++) again.write(chain.append(input(i)));
    again.close();
    again.close(); // idempotent

    const rows = readRows(path);
    assert.equal(rows.length, 15);
    assert.deepEqual(verifyChain(rows, KEY), { ok: true, checked: 15, firstBadSeq: null });
    assert.ok(!readFileSync(path, "utf8").includes("plaintext-"));
  });
});

Deno.test("FileSink refuses writes after close", () => {
  withDir((dir) => {
    const sink = new FileSink(join(dir, "a.log"));
    const rec = new AuditChain(KEY, GENESIS_HEAD).append(input(1));
    sink.close();
    assert.throws(() => sink.write(rec), /closed/);
  });
});

Deno.test("an edit to the file on disk is caught by verify", () => {
  withDir((dir) => {
    const path = join(dir, "audit.log");
    const chain = new AuditChain(KEY, GENESIS_HEAD);
    const sink = new FileSink(path);
    for (let i = 1; i <= 5; i++) sink.write(chain.append(input(i)));
    sink.close();
    const lines = readFileSync(path, "utf8").split("\n");
    lines[2] = lines[2].replace('"path":"secret/data/db"', '"path":"secret/data/dc"');
    const rows = lines.filter((l) => l !== "").map((l) => JSON.parse(l));
    assert.notDeepEqual(rows, readRows(path));
    const res = verifyChain(rows, KEY);
    assert.equal(res.firstBadSeq, 3);
  });
});
