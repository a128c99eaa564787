/**
 * QA findings: the file sink's line shape and its "stdout"/"discard" targets, the unseal nonce,
 * and the config keys Vault reads loosely (log_level in any case, tls_disable as a weak bool).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditChain, GENESIS_HEAD } from "../../core/audit/chain.ts";
import type { AuditInput } from "../../core/audit/entry.ts";
import { canonicalize } from "../../core/audit/entry.ts";
import { FileSink } from "../../core/audit/file_sink.ts";
import { verifyChain } from "../../core/audit/verify.ts";
import { parseConfig } from "../../core/config.ts";
import { ShamirSeal } from "../../core/seal/seal.ts";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff);

function input(i: number): AuditInput {
  return {
    type: "request",
    time: "2026-11-02T10:00:00Z",
    requestId: `r${i}`,
    operation: "update",
    path: "secret/data/db",
    remoteAddress: "127.0.0.1",
    tokenAccessor: "acc-1",
    policies: ["default"],
    result: "ok",
    status: 200,
    data: { password: `p-${i}` },
  };
}

Deno.test("FileSink lines carry seq, prevHash, hash, mac and entry, not the entry a second time as a string", () => {
  const dir = mkdtempSync(join(tmpdir(), "qa-sink-"));
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
  const dir = mkdtempSync(join(tmpdir(), "qa-sink-"));
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
  const dir = mkdtempSync(join(tmpdir(), "qa-sink-"));
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

async function withSeal(fn: (s: ShamirSeal) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "qa-seal-" });
  const st = await LibsqlStorage.open(`${dir}/s.db`);
  try {
    const s = new ShamirSeal(st);
    await s.load();
    await fn(s);
  } finally {
    await st.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ShamirSeal.nonce: a UUID for the whole of an unseal in progress, empty otherwise", async () => {
  await withSeal(async (s) => {
    const { shares } = await s.initialize(3, 3);
    assert.equal(s.nonce, "");
    await s.submit(shares[0]!);
    const nonce = s.nonce;
    assert.match(nonce, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await s.submit(shares[0]!); // repeated: ignored, same attempt
    await s.submit(shares[1]!);
    assert.equal(s.progress, 2);
    assert.equal(s.nonce, nonce);
    assert.ok(await s.submit(shares[2]!));
    assert.equal(s.nonce, "");

    // A reset ends the attempt; the next one has a nonce of its own.
    await s.submit(shares[0]!);
    const second = s.nonce;
    assert.notEqual(second, "");
    assert.notEqual(second, nonce);
    s.resetProgress();
    assert.equal(s.nonce, "");
    // So does a failed attempt (here a share of the wrong length).
    await s.submit(shares[1]!);
    assert.notEqual(s.nonce, "");
    await assert.rejects(s.submit(new Uint8Array(5)));
    assert.equal(s.progress, 0);
    assert.equal(s.nonce, "");
  });
});

const base = { listener: {}, storage: { path: "/var/lib/secrethub" } };
const file = "/etc/secrethub/s.json";
const parse = (cfg: unknown) => parseConfig(JSON.stringify(cfg), file);

Deno.test("parseConfig() reads log_level in any case, as Vault", () => {
  for (const [given, level] of [["INFO", "info"], ["Debug", "debug"], ["warn", "warn"]]) {
    assert.equal(parse({ ...base, log_level: given }).log_level, level);
  }
  assert.throws(() => parse({ ...base, log_level: "loud" }), /invalid config key "log_level"/);
});

Deno.test("parseConfig() reads listener.tls_disable as Vault does: bool, bool string or integer", () => {
  const cases: [unknown, boolean][] = [
    [true, true],
    [false, false],
    ["true", true],
    ["false", false],
    ["1", true],
    ["0", false],
    ["TRUE", true],
    ["f", false],
    [1, true],
    [0, false],
  ];
  for (const [given, want] of cases) {
    const c = parse({ ...base, listener: { tls_disable: given } });
    assert.equal(c.listener.tls_disable, want, JSON.stringify(given));
  }
  for (const bad of ["yes please", 1.5, [], {}, null]) {
    assert.throws(
      () => parse({ ...base, listener: { tls_disable: bad } }),
      /invalid config key "listener\.tls_disable"/,
      JSON.stringify(bad),
    );
  }
});
