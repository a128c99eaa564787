/**
 * Offline `audit verify -db` on database files a real server left behind (stopped, so nothing
 * commits), and on files that are no SecretHub database at all.
 */
import assert from "node:assert/strict";
import Database from "libsql";
import { call, initAndUnseal, startServerProcess } from "../helpers/server_process.ts";
import { offlineAuditVerify } from "../../core/audit/offline.ts";

const DB = "secrethub.db";

async function verify(db: string, unsealKey: string, format: "json" | "table" = "json") {
  const out: string[] = [];
  const err: string[] = [];
  const code = await offlineAuditVerify({
    db,
    keyFile: undefined,
    unsealKeys: [unsealKey],
    format,
    args: [],
    env: {},
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    readStdin: () => Promise.resolve(""),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** The files of a directory with their bytes; `-shm` is left out (readers mark it). */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for await (const e of Deno.readDir(dir)) {
    const bytes = e.name.endsWith("-shm") ? "" : (await Deno.readFile(`${dir}/${e.name}`)).join();
    files.set(e.name, bytes);
  }
  return files;
}

/** A copy of the database files of a stopped server, in a directory of its own. */
async function copyDb(from: string, to: string): Promise<string> {
  await Deno.mkdir(to);
  for await (const e of Deno.readDir(from)) {
    if (e.name.startsWith(DB)) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
  return `${to}/${DB}`;
}

Deno.test("offlineAuditVerify() reads a stopped server's file without writing or creating files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-offline-" });
  const data = `${dir}/data`;
  try {
    // Started and stopped, never initialised: a SecretHub schema, no seal configuration.
    let srv = await startServerProcess(dir);
    await srv.kill();
    const uninit = await copyDb(data, `${dir}/uninit`);
    srv = await startServerProcess(dir);
    let key = "";
    try {
      key = (await initAndUnseal(srv.url)).key;
    } finally {
      await srv.kill();
    }
    const fresh = await copyDb(data, `${dir}/fresh`);
    srv = await startServerProcess(dir);
    try {
      await call(srv.url, "PUT", "/v1/sys/unseal", { key });
      // Denied for want of a token, and audited like any request.
      const w = await call(srv.url, "POST", "/v1/secret/data/app", { data: { pw: "p" } });
      assert.equal(w.status, 403, JSON.stringify(w.body));
    } finally {
      await srv.kill();
    }

    const u = await verify(uninit, key);
    assert.equal(u.code, 1);
    assert.equal(
      u.err,
      `Error: not an initialised SecretHub database: ${uninit} has no seal configuration`,
    );

    // As the server leaves it after init and unseal: no audit record and no head yet.
    const before = await snapshot(`${dir}/fresh`);
    const f = await verify(fresh, key);
    assert.equal(f.code, 0, f.err);
    assert.deepEqual(JSON.parse(f.out), {
      ok: true,
      checked: 0,
      first_bad_seq: null,
      reason: null,
      anomalies: [],
    });
    assert.equal(
      (await verify(fresh, key, "table")).out,
      "Audit chain empty: nothing has been audited yet (0 entries)",
    );
    assert.deepEqual(await snapshot(`${dir}/fresh`), before);

    const beforeUsed = await snapshot(data);
    const used = await verify(`${data}/${DB}`, key);
    assert.equal(used.code, 0, used.err);
    const checked = JSON.parse(used.out).checked;
    assert.ok(checked > 0, used.out);
    assert.deepEqual(await snapshot(data), beforeUsed);

    // All in the file itself (no -wal): read as it is, still creating nothing beside it.
    const clean = await copyDb(data, `${dir}/clean`);
    const db = new Database(clean);
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    await Deno.remove(`${clean}-wal`).catch(() => {});
    await Deno.remove(`${clean}-shm`).catch(() => {});
    const beforeClean = await snapshot(`${dir}/clean`);
    assert.deepEqual([...beforeClean.keys()], [DB]);
    const c = await verify(clean, key);
    assert.equal(c.code, 0, c.err);
    assert.equal(JSON.parse(c.out).checked, checked);
    assert.deepEqual(await snapshot(`${dir}/clean`), beforeClean);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("offlineAuditVerify() names a log whose records and head were all deleted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-offline-" });
  try {
    const srv = await startServerProcess(dir);
    let key = "";
    try {
      const init = await initAndUnseal(srv.url);
      key = init.key;
      const w = await call(
        srv.url,
        "POST",
        "/v1/secret/data/app",
        { data: { pw: "p" } },
        init.token,
      );
      assert.equal(w.status, 200, JSON.stringify(w.body));
    } finally {
      await srv.kill();
    }
    const file = await copyDb(`${dir}/data`, `${dir}/cut`);
    const db = new Database(file);
    db.exec("DELETE FROM audit; DELETE FROM audit_block; DELETE FROM audit_head");
    db.close();
    const r = await verify(file, key);
    assert.equal(r.code, 1, r.out);
    assert.deepEqual(JSON.parse(r.out), {
      ok: false,
      checked: 0,
      first_bad_seq: 1,
      reason: "no audit head record and no records, but the database holds data that only " +
        "audited requests write: the audit records were removed",
      anomalies: [],
    });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("offlineAuditVerify() refuses a path that is no SecretHub database, and creates nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-offline-" });
  const key = btoa(String.fromCharCode(...new Uint8Array(32)));
  try {
    const missing = await verify(`${dir}/missing.db`, key);
    assert.deepEqual([missing.code, missing.err], [
      1,
      `Error: database file not found: ${dir}/missing.db`,
    ]);

    await Deno.writeTextFile(`${dir}/empty.db`, "");
    const empty = await verify(`${dir}/empty.db`, key);
    assert.deepEqual([empty.code, empty.err], [
      1,
      `Error: not a SecretHub database: ${dir}/empty.db is not an SQLite file`,
    ]);

    const other = new Database(`${dir}/other.db`);
    other.exec("CREATE TABLE notes (body TEXT)");
    other.close();
    const o = await verify(`${dir}/other.db`, key);
    assert.deepEqual([o.code, o.err], [
      1,
      `Error: not a SecretHub database: ${dir}/other.db has no SecretHub tables`,
    ]);

    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names.sort(), ["empty.db", "other.db"]);
    assert.equal((await Deno.stat(`${dir}/empty.db`)).size, 0);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
