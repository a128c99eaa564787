/**
 * Under commits that never pause, SQLite alone never restarts the WAL (a write must begin with
 * every frame copied), so the file grows until a forced RESTART stalls the writer. The
 * checkpointer asks the writer to finish the copy between two transactions once the WAL is past
 * its limit: the file then stays near that limit however much is written.
 */
import assert from "node:assert/strict";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { verifyChain } from "../../core/audit/verify.ts";
import type { AuditRecord } from "../../core/audit/entry.ts";

const KEY = new Uint8Array(32).fill(9);
const FRAME = 4096;

Deno.test("the WAL is restarted under continuous commits and stays bounded", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/a.db`;
  const limitFrames = 256; // 1 MiB
  const s = await LibsqlStorage.open(path, {
    checkpointIntervalMs: 10,
    walRestartFrames: limitFrames,
  });
  try {
    s.setAuditKey(KEY);
    const pad = "x".repeat(600);
    let written = 0;
    let maxWal = 0;
    const deadline = performance.now() + 30_000;
    let n = 0;
    // Two batches at a time, as under load: one waits at the writer while the other commits.
    while (written < 96 * limitFrames * FRAME) {
      const batch = Array.from({ length: 20 }, () => JSON.stringify({ n: n++, pad }));
      await Promise.all([s.transaction([], batch), s.transaction([], batch)]);
      written += 2 * batch.reduce((a, e) => a + e.length, 0);
      maxWal = Math.max(maxWal, (await Deno.stat(`${path}-wal`)).size);
      if (performance.now() > deadline) break;
    }
    // 96 times the limit went through the WAL (a WAL never restarted holds at least that), yet
    // the file stayed within a few times the limit: the frames committed between the
    // checkpointer's pass and the writer's restart, more when a loaded machine delays a pass.
    assert.ok(written >= 96 * limitFrames * FRAME, `only ${written} bytes written`);
    assert.ok(maxWal < 24 * limitFrames * FRAME, `WAL grew to ${maxWal} bytes`);
    const rows = [...s.auditRows()] as unknown as AuditRecord[];
    // Every entry is in the chain, once per batch that carried it.
    assert.equal(rows.length, 2 * n);
    assert.equal(verifyChain(rows, KEY).ok, true);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});
