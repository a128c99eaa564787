/**
 * Storage failures reach the client as Vault does: a 500 carrying the storage's own (safe) error
 * text, e.g. `storage commit failed: database or disk is full`, never a bare "internal error",
 * and the log line says why too. A full disk is made real and deterministic with SQLite's
 * max_page_count (LibsqlOptions.maxPageCount): the database cannot grow, so any commit that needs
 * a new page fails with SQLITE_FULL, exactly as on a full file system.
 */
import assert from "node:assert/strict";
import { createCore, serve } from "../../core/server.ts";
import { decodeShare } from "../../core/seal/seal.ts";
import { startTestCore } from "../helpers/test_core.ts";

const FULL = "storage commit failed: database or disk is full";

/** Runs `fn` with console.error (where log lines go) captured; returns the lines. */
async function capturingLog(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => lines.push(a.map(String).join(" "));
  try {
    await fn();
  } finally {
    console.error = orig;
  }
  return lines;
}

async function get(url: string, path: string, token?: string) {
  const r = await fetch(url + path, { headers: token ? { "x-vault-token": token } : {} });
  const text = await r.text();
  return { status: r.status, text, body: text ? JSON.parse(text) : null };
}

/** Repeats a request until it fails (the last free bytes of the last page fill up first). */
async function untilFailure(f: () => Promise<{ status: number; text: string }>) {
  for (let i = 0; i < 500; i++) {
    const r = await f();
    if (r.status !== 200) return r;
  }
  throw new Error("no request failed");
}

Deno.test("a full disk: writes, reads, sys/health and sys/audit/verify are 500 with the storage's reason", async () => {
  // A database with a secret in it, made without a limit.
  const t = await startTestCore();
  const { rootToken, unsealKeys } = t;
  assert.equal(
    (await t.req("POST", "/v1/secret/data/before", { data: { v: "kept" } })).status,
    200,
  );
  await t.core.close();
  const dir = await Deno.makeTempDir({ prefix: "secrethub-full-" });
  const dbFile = `${dir}/secrethub.db`;
  for (const ext of ["", "-wal", "-shm"]) {
    await Deno.copyFile(t.dbFile + ext, dbFile + ext).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
  await t.close();
  // Reopened so that it cannot grow by a page: every commit that needs one fails.
  const { core, app } = await createCore(dbFile, { tidyIntervalMs: 0 }, { maxPageCount: 1 });
  const srv = await serve(core, app, { address: "127.0.0.1:0" });
  try {
    await core.unseal(decodeShare(unsealKeys[0]!));
    const url = srv.url;
    let lines: string[] = [];
    let w!: { status: number; text: string };
    lines = await capturingLog(async () => {
      const r = await fetch(`${url}/v1/secret/data/big`, {
        method: "POST",
        headers: { "x-vault-token": rootToken, "content-type": "application/json" },
        body: JSON.stringify({ data: { blob: "x".repeat(200_000) } }),
      });
      w = { status: r.status, text: await r.text() };
    });
    assert.equal(w.status, 500, w.text);
    assert.deepEqual(JSON.parse(w.text), { errors: [FULL] });
    // The log line names the reason, not only the type.
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l["@message"] === "storage error");
    assert.ok(logged, lines.join("\n"));
    assert.equal(logged.error_type, "StorageError");
    assert.equal(logged.error, FULL);
    assert.ok(!lines.some((l) => /"internal error"/.test(l)), lines.join("\n"));

    await capturingLog(async () => {
      // Reads are audited: once the audit cannot be written either, they fail the same way.
      const read = await untilFailure(() => get(url, "/v1/secret/data/before", rootToken));
      assert.equal(read.status, 500, read.text);
      assert.deepEqual(JSON.parse(read.text), { errors: [FULL] });
      // sys/health: 500, as Vault's health answers when its storage cannot be read.
      const health = await untilFailure(() => get(url, "/v1/sys/health"));
      assert.equal(health.status, 500, health.text);
      assert.deepEqual(JSON.parse(health.text), { errors: [FULL] });
      const verify = await untilFailure(() => get(url, "/v1/sys/audit/verify", rootToken));
      assert.equal(verify.status, 500, verify.text);
      assert.deepEqual(JSON.parse(verify.text), { errors: [FULL] });
    });
  } finally {
    await srv.shutdown();
  }
  // Nothing was damaged: without the limit the old secret reads back and writes work again.
  const again = await createCore(dbFile, { tidyIntervalMs: 0 });
  const srv2 = await serve(again.core, again.app, { address: "127.0.0.1:0" });
  try {
    await again.core.unseal(decodeShare(unsealKeys[0]!));
    const r = await get(srv2.url, "/v1/secret/data/before", rootToken);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.data.v, "kept");
  } finally {
    await srv2.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a closed storage: requests are 500 'storage is closed', never 'internal error'", async () => {
  const t = await startTestCore();
  try {
    assert.equal((await t.req("POST", "/v1/secret/data/a", { data: { v: 1 } })).status, 200);
    await t.core.physical.close();
    const lines = await capturingLog(async () => {
      for (
        const [method, path, body] of [
          ["GET", "/v1/secret/data/a", undefined],
          ["POST", "/v1/secret/data/b", { data: { v: 2 } }],
          ["GET", "/v1/secret/metadata/?list=true", undefined],
          ["GET", "/v1/sys/health", undefined],
          ["GET", "/v1/sys/audit/verify", undefined],
        ] as const
      ) {
        const r = await t.req(method, path, body);
        assert.equal(r.status, 500, `${method} ${path}: ${r.text}`);
        assert.deepEqual(r.body, { errors: ["storage is closed"] }, `${method} ${path}`);
      }
    });
    assert.ok(lines.some((l) => /"error":"storage is closed"/.test(l)), lines.join("\n"));
    assert.ok(!lines.some((l) => /"internal error"/.test(l)), lines.join("\n"));
  } finally {
    await t.close();
  }
});
