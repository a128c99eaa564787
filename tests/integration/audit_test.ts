import assert from "node:assert/strict";
import Database from "libsql";
import { startTestCore } from "../helpers/test_core.ts";
import { offlineAuditVerify } from "../../core/audit/offline.ts";

async function offline(db: string, opts: { unsealKeys?: string[]; keyFile?: string }) {
  const out: string[] = [];
  const code = await offlineAuditVerify({
    db,
    keyFile: opts.keyFile,
    unsealKeys: opts.unsealKeys ?? [],
    format: "json",
    args: [],
    env: {},
    stdout: (s) => out.push(s),
    stderr: (s) => out.push(s),
    readStdin: () => Promise.resolve(""),
  });
  return { code, out: out.join("\n") };
}

Deno.test("audit: every request and response is chained; denied requests are recorded; tokens never appear raw", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secret/data/a", { data: { v: "audit-me" } });
    await t.req("GET", "/v1/secret/data/a", undefined, "hvs.wrongtoken");
    const rows = [...t.core.physical.auditRows()];
    assert.ok(rows.length >= 3);
    const denied = rows.find((r) => r.entry.result === "denied");
    assert.ok(denied, "denied request audited");
    assert.equal(denied.entry.path, "secret/data/a");
    const all = JSON.stringify(rows);
    assert.equal(all.includes("audit-me"), false);
    assert.equal(all.includes(t.rootToken), false);
    assert.ok(all.includes("hmac-sha256:"));
    const r = await t.req("GET", "/v1/sys/audit/verify");
    assert.equal(r.body.data.ok, true);
    // audit-hash gives the same HMAC the log holds for a known value.
    const h = await t.req("PUT", "/v1/sys/audit-hash/x", { input: "audit-me" });
    assert.ok(all.includes(h.body.data.hash));
  } finally {
    await t.close();
  }
});

Deno.test("audit verify (online and offline) names the row whose field was edited", async () => {
  const t = await startTestCore();
  try {
    for (let i = 0; i < 10; i++) {
      await t.req("POST", `/v1/secret/data/r${i}`, { data: { v: String(i) } });
    }
    const keyHex = (await t.req("GET", "/v1/sys/audit/key")).body.data.key;
    const keyFile = `${t.dir}/audit.key`;
    await Deno.writeTextFile(keyFile, keyHex);
    assert.equal((await offline(t.dbFile, { unsealKeys: t.unsealKeys })).code, 0);
    assert.equal((await offline(t.dbFile, { keyFile })).code, 0);

    const db = new Database(t.dbFile);
    const fields = ["time", "operation", "path", "remote_address", "result", "request_id", "type"];
    for (const [i, field] of fields.entries()) {
      const seq = 3 + i * 2;
      const row = db.prepare("SELECT entry FROM audit WHERE seq = ?").get(seq) as { entry: string };
      const original = row.entry;
      const e = JSON.parse(original);
      const val = String(e[field]);
      e[field] = val.slice(0, -1) + (val.endsWith("x") ? "y" : "x");
      db.prepare("UPDATE audit SET entry = ? WHERE seq = ?").run(JSON.stringify(e), seq);
      const online = await t.req("GET", "/v1/sys/audit/verify");
      assert.equal(online.body.data.ok, false, field);
      assert.equal(online.body.data.first_bad_seq, seq, field);
      const off = await offline(t.dbFile, { keyFile });
      assert.equal(off.code, 1);
      assert.equal(JSON.parse(off.out).first_bad_seq, seq, field);
      db.prepare("UPDATE audit SET entry = ? WHERE seq = ?").run(original, seq);
    }
    // Editing the stored hash of a row is caught at that row too.
    db.prepare("UPDATE audit SET hash = 'ab' || substr(hash, 3) WHERE seq = 6").run();
    assert.equal((await t.req("GET", "/v1/sys/audit/verify")).body.data.first_bad_seq, 6);
    db.close();
    // Wrong unseal key: refused, not "verified".
    const wrong = Buffer.alloc(32, 7).toString("base64");
    assert.equal((await offline(t.dbFile, { unsealKeys: [wrong] })).code, 1);
  } finally {
    await t.close();
  }
});
