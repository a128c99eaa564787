/**
 * SQLite syncs the database file after a checkpoint pass only when no commit arrived while it
 * copied. Under commits that never pause, the copied pages would stay dirty in the page cache
 * for a whole WAL cycle, and the sync before the next WAL restart (on the writer, with every
 * request waiting) would write them all. The checkpointer syncs them after each pass instead.
 *
 * The kernel tells how many pages of a file are dirty (cachestat(2), Linux 6.5+), so this test
 * looks at the database file itself while the writer commits without a pause.
 */
import assert from "node:assert/strict";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";

const SYS_CACHESTAT = 451; // the same number on x86_64 and aarch64

/**
 * Dirty pages of the file at `path`, through any descriptor this process holds on it (the
 * storage's own connections do), or null where the kernel has no cachestat.
 */
function dirtyPages(path: string): number | null {
  const fd = [...Deno.readDirSync("/proc/self/fd")].map((e) => Number(e.name)).find((n) => {
    try {
      return Deno.readLinkSync(`/proc/self/fd/${n}`) === path;
    } catch {
      return false;
    }
  });
  if (fd === undefined) throw new Error(`${path} is not open`);
  const libc = Deno.dlopen("libc.so.6", {
    syscall: { parameters: ["i64", "i64", "buffer", "buffer", "i64"], result: "i64" },
  });
  try {
    const range = new BigUint64Array([0n, 0n]); // offset 0, length 0: the whole file
    const stat = new BigUint64Array(5); // cache, dirty, writeback, evicted, recently evicted
    const rc = libc.symbols.syscall(BigInt(SYS_CACHESTAT), BigInt(fd), range, stat, 0n);
    return rc === 0n ? Number(stat[1]) : null;
  } finally {
    libc.close();
  }
}

Deno.test("pages a checkpoint copies do not stay dirty while the writer never pauses", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  const path = `${dir}/a.db`;
  // No WAL restart in this test: the syncs before a restart would clean the file as well.
  const s = await LibsqlStorage.open(path, {
    checkpointIntervalMs: 20,
    walRestartFrames: 1 << 30,
  });
  try {
    s.setAuditKey(new Uint8Array(32).fill(3));
    const pad = "y".repeat(900);
    let n = 0;
    let stop = false;
    // Two batches at a time, as under load: the writer always has the next one waiting.
    const load = (async () => {
      while (!stop) {
        const batch = Array.from({ length: 20 }, () => JSON.stringify({ n: n++, pad }));
        await Promise.all([s.transaction([], batch), s.transaction([], batch)]);
      }
    })();
    // Enough must have gone through for the pages to matter, however fast this host writes (a
    // fixed 1.5 s wrote 16,760 entries on a slow host): wait for the volume, not for a time.
    const deadline = Date.now() + 20_000;
    while (n <= 20_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      const d = dirtyPages(path);
      if (d === null) break;
      samples.push(d);
      await new Promise((r) => setTimeout(r, 15));
    }
    stop = true;
    await load;
    if (samples.length === 0) {
      // deno-lint-ignore no-console
      console.warn("cachestat(2) is not available on this kernel: nothing measured");
      return;
    }
    // 20,000 audit rows are several thousand pages copied; only what one pass has copied and
    // not yet synced may be dirty at any moment (a few hundred pages at most here).
    samples.sort((a, b) => a - b);
    const median = samples[samples.length >> 1]!;
    assert.ok(n > 20_000, `only ${n} entries written`);
    assert.ok(median < 400, `database file has ${median} dirty pages (samples ${samples})`);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
});
