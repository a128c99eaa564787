import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditChain, GENESIS_HEAD } from "../../core/audit/chain.ts";
import type { AuditInput, AuditRecord } from "../../core/audit/entry.ts";
import { canonicalize } from "../../core/audit/entry.ts";
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

Deno.test("a write cut short by a full disk leaves no later record glued to the fragment", () => {
  withDir((dir) => {
    const path = join(dir, "audit.log");
    const chain = new AuditChain(KEY, GENESIS_HEAD);
    // The disk: "ok" writes all, "partial" takes 40 bytes and then fills up, "full" refuses.
    let disk: "ok" | "partial" | "full" = "ok";
    const sink = new FileSink(path, {
      writeSync: ((fd: number, buf: Uint8Array, off: number, len: number) => {
        if (disk === "full") throw new Error("ENOSPC: no space left on device, write");
        if (disk === "partial") {
          disk = "full";
          return writeSync(fd, buf, off, 40);
        }
        return writeSync(fd, buf, off, len);
      }) as typeof writeSync,
    });
    const recs = [1, 2, 3, 4].map((i) => chain.append(input(i)));
    sink.write(recs[0]!);
    disk = "partial";
    assert.throws(() => sink.write(recs[1]!), /ENOSPC/);
    // Still full and nothing written: no second break owed.
    assert.throws(() => sink.write(recs[2]!), /ENOSPC/);
    disk = "ok";
    sink.write(recs[3]!);
    sink.write(recs[3]!);
    sink.close();
    const lines = readFileSync(path, "utf8").split("\n");
    assert.equal(lines.pop(), "");
    // Record 1, the 40-byte fragment of record 2 on a line of its own, then record 4 twice.
    assert.equal(lines.length, 4, lines.join("\n"));
    assert.equal(lines[1]!.length, 40);
    assert.throws(() => JSON.parse(lines[1]!));
    assert.deepEqual([lines[0], lines[2], lines[3]].map((l) => JSON.parse(l!).seq), [1, 4, 4]);
  });
});

Deno.test("FileSink sets its mode on an existing file and reopens at its path after a rename", () => {
  withDir((dir) => {
    const path = join(dir, "audit.log");
    writeFileSync(path, "");
    chmodSync(path, 0o644);
    const chain = new AuditChain(KEY, GENESIS_HEAD);
    const sink = new FileSink(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    sink.write(chain.append(input(1)));
    renameSync(path, `${path}.1`);
    sink.reopen();
    sink.write(chain.append(input(2)));
    sink.close();
    assert.deepEqual(readRows(`${path}.1`).map((r) => r.seq), [1]);
    assert.deepEqual(readRows(path).map((r) => r.seq), [2]);
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });
});

Deno.test("FileSink lines carry seq, prevHash, hash, mac and entry, not the entry a second time as a string", () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-"));
  try {
    const path = join(dir, "audit.log");
    const chain = new AuditChain(KEY, GENESIS_HEAD);
    const sink = new FileSink(path);
    const recs = [1, 2, 3].map((i) => chain.append(input(i)));
    for (const r of recs) sink.write(r);
    sink.close();
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    const rows = lines.map((l) => JSON.parse(l));
    for (const row of rows) {
      assert.deepEqual(Object.keys(row).sort(), ["entry", "hash", "mac", "prevHash", "seq"]);
    }
    assert.deepEqual(
      rows.map((r) => canonicalize(r.entry)),
      recs.map((r) => canonicalize(r.entry)),
    );
    const verified = verifyChain(rows, KEY);
    assert.deepEqual([verified.ok, verified.checked, verified.firstBadSeq], [true, 3, null]);
    // About the size of the entry once, not twice.
    assert.ok(lines[0]!.length < 2 * canonicalize(recs[0]!.entry).length, lines[0]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test('FileSink "discard" drops records and creates no file', () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-"));
  const cwd = Deno.cwd();
  try {
    // A relative "discard" would have been created here.
    Deno.chdir(dir);
    const sink = new FileSink("discard");
    sink.write(new AuditChain(KEY, GENESIS_HEAD).append(input(1)));
    sink.reopen();
    sink.close();
    assert.equal(existsSync(join(dir, "discard")), false);
  } finally {
    Deno.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test('FileSink "stdout" writes JSON lines to the process\'s stdout and leaves it open', async () => {
  const dir = mkdtempSync(join(tmpdir(), "sink-"));
  try {
    const sinkUrl = new URL("../../core/audit/file_sink.ts", import.meta.url).href;
    const chainUrl = new URL("../../core/audit/chain.ts", import.meta.url).href;
    const script = `
      import { FileSink } from ${JSON.stringify(sinkUrl)};
      import { AuditChain, GENESIS_HEAD } from ${JSON.stringify(chainUrl)};
      const chain = new AuditChain(new Uint8Array(32).fill(1), GENESIS_HEAD);
      const base = { time: "t", operation: "read", remoteAddress: "x", tokenAccessor: "a",
        policies: [], result: "ok" };
      const sink = new FileSink("stdout");
      sink.write(chain.append({ ...base, type: "request", requestId: "one", path: "p/1" }));
      sink.reopen();
      sink.write(chain.append({ ...base, type: "request", requestId: "two", path: "p/2" }));
      sink.close();
      console.log("still open");
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=ts", script],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.length, 3, text);
    assert.deepEqual(lines.slice(0, 2).map((l) => JSON.parse(l).entry.request_id), ["one", "two"]);
    assert.equal(lines[2], "still open");
    assert.equal(existsSync(join(dir, "stdout")), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
