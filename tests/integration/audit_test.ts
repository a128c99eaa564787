import assert from "node:assert/strict";
import Database from "libsql";
import { startTestCore } from "../helpers/test_core.ts";
import { offlineAuditVerify } from "../../core/audit/offline.ts";
import { auditBlock, auditLine } from "../helpers/audit_db.ts";
import { decodeShare } from "../../core/seal/seal.ts";

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
    // audit-hash (of an enabled device) gives the same HMAC the log holds for a known value.
    const file = { type: "file", options: { file_path: `${t.dir}/x.log` } };
    assert.equal((await t.req("PUT", "/v1/sys/audit/x", file)).status, 204);
    const h = await t.req("PUT", "/v1/sys/audit-hash/x", { input: "audit-me" });
    assert.equal(h.status, 200);
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
      const rec = auditLine(db, seq);
      const row = JSON.parse(rec.line);
      const val = String(row[4][field]);
      row[4][field] = val.slice(0, -1) + (val.endsWith("x") ? "y" : "x");
      rec.put(JSON.stringify(row));
      const online = await t.req("GET", "/v1/sys/audit/verify");
      assert.equal(online.body.data.ok, false, field);
      assert.equal(online.body.data.first_bad_seq, seq, field);
      const off = await offline(t.dbFile, { keyFile });
      assert.equal(off.code, 1);
      assert.equal(JSON.parse(off.out).first_bad_seq, seq, field);
      rec.put(rec.line);
    }
    // Editing the stored hash of a record is caught at that record too.
    const six = auditLine(db, 6);
    const row6 = JSON.parse(six.line);
    row6[2] = "ab" + row6[2].slice(2);
    six.put(JSON.stringify(row6));
    assert.equal((await t.req("GET", "/v1/sys/audit/verify")).body.data.first_bad_seq, 6);
    six.put(six.line);
    assert.equal((await t.req("GET", "/v1/sys/audit/verify")).body.data.ok, true);
    assert.equal((await offline(t.dbFile, { keyFile })).code, 0);
    db.close();
    // Wrong unseal key: refused, not "verified".
    const wrong = Buffer.alloc(32, 7).toString("base64");
    assert.equal((await offline(t.dbFile, { unsealKeys: [wrong] })).code, 1);
  } finally {
    await t.close();
  }
});

Deno.test("audit verify names the record when any one byte of its stored line is changed", async () => {
  const t = await startTestCore();
  const verify = async () => (await t.req("GET", "/v1/sys/audit/verify")).body.data;
  try {
    // Concurrent writes commit together, so some block holds several records.
    await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => t.req("POST", `/v1/secret/data/b${i}`, { data: { v: String(i) } }),
      ),
    );
    const db = new Database(t.dbFile);
    try {
      const multi = db.prepare(
        "SELECT first_seq FROM audit_block WHERE last_seq >= first_seq + 2 ORDER BY first_seq LIMIT 1",
      ).get() as { first_seq: number } | undefined;
      assert.ok(multi, "a block with three records or more");
      // Not the first record: verify must get past the block's earlier lines to name it.
      const seq = multi.first_seq + 1;
      const rec = auditLine(db, seq);
      assert.ok(rec.line.startsWith(`[${seq},"`), rec.line);
      // Every byte of the line: its seq, links, hash, mac, every field of the entry, the brackets.
      for (let at = 0; at < rec.line.length; at++) {
        const c = rec.line[at]!;
        rec.put(rec.line.slice(0, at) + (c === "a" ? "b" : "a") + rec.line.slice(at + 1));
        const v = await verify();
        assert.equal(v.ok, false, `byte ${at} (${c})`);
        assert.equal(v.first_bad_seq, seq, `byte ${at} (${c})`);
      }
      rec.put(rec.line);
      assert.equal((await verify()).ok, true);
      // Two records merged by a deleted line break: named where the first was.
      const block = auditBlock(db, seq);
      const lines = block.lines.split("\n");
      const i = seq - block.firstSeq;
      block.put([...lines.slice(0, i), lines[i]! + lines[i + 1], ...lines.slice(i + 2)].join("\n"));
      let v = await verify();
      assert.equal(v.ok, false);
      assert.equal(v.first_bad_seq, seq);
      // A record dropped from its block: a gap, named (as for any gap) by the missing seq.
      block.put([...lines.slice(0, i), ...lines.slice(i + 1)].join("\n"));
      v = await verify();
      assert.equal(v.ok, false);
      assert.equal(v.first_bad_seq, seq);
      assert.match(v.reason, /gap/);
      block.put(block.lines);
      assert.equal((await verify()).ok, true);
    } finally {
      db.close();
    }
  } finally {
    await t.close();
  }
});

Deno.test("records cut from the end of the log are named, and stay a gap after unseal", async () => {
  const t = await startTestCore();
  const verify = async () => (await t.req("GET", "/v1/sys/audit/verify")).body.data;
  const reseal = async () => {
    await t.core.sealNow();
    await t.core.unseal(decodeShare(t.unsealKeys[0]!));
  };
  try {
    for (let i = 0; i < 8; i++) await t.req("POST", `/v1/secret/data/c${i}`, { data: { v: "x" } });
    const keyFile = `${t.dir}/audit.key`;
    await Deno.writeTextFile(keyFile, (await t.req("GET", "/v1/sys/audit/key")).body.data.key);
    assert.equal((await verify()).ok, true);
    const db = new Database(t.dbFile);
    db.exec("PRAGMA busy_timeout = 5000"); // the checkpointer may hold the file a moment
    try {
      // Cut the last three blocks, as someone with the file could.
      const cut = db.prepare(
        "SELECT first_seq FROM audit_block ORDER BY first_seq DESC LIMIT 1 OFFSET 2",
      ).get() as { first_seq: number };
      db.prepare("DELETE FROM audit_block WHERE first_seq >= ?").run(cut.first_seq);
      let v = await verify();
      assert.equal(v.ok, false);
      assert.equal(v.first_bad_seq, cut.first_seq);
      assert.match(v.reason, /truncated/);
      const off = await offline(t.dbFile, { keyFile });
      assert.equal(off.code, 1);
      assert.equal(JSON.parse(off.out).first_bad_seq, cut.first_seq);

      // A restart (seal, unseal) goes on from the signed head, not from the last record left:
      // the cut stays a gap in the chain, named at its first missing record.
      await reseal();
      await t.req("POST", "/v1/secret/data/after", { data: { v: "y" } });
      v = await verify();
      assert.equal(v.ok, false);
      assert.equal(v.first_bad_seq, cut.first_seq);
      assert.match(v.reason, /gap/);
    } finally {
      db.close();
    }
  } finally {
    await t.close();
  }
});

Deno.test("a deleted or forged audit head row is reported, and noted in the chain at unseal", async () => {
  const t = await startTestCore();
  const verify = async () => (await t.req("GET", "/v1/sys/audit/verify")).body.data;
  try {
    for (let i = 0; i < 4; i++) await t.req("POST", `/v1/secret/data/h${i}`, { data: { v: "x" } });
    const db = new Database(t.dbFile);
    db.exec("PRAGMA busy_timeout = 5000");
    try {
      const head = db.prepare("SELECT seq, hash, mac FROM audit_head").get() as {
        seq: number;
        hash: string;
        mac: string;
      };
      // A head moved back to hide a cut needs a new mac, which takes the audit key.
      db.prepare("UPDATE audit_head SET seq = seq - 1").run();
      let v = await verify();
      assert.equal(v.ok, false);
      assert.match(v.reason, /head mac/);
      db.prepare("UPDATE audit_head SET seq = ?, mac = ?").run(head.seq, "0".repeat(64));
      assert.match((await verify()).reason, /head mac/);
      db.prepare("DELETE FROM audit_head").run();
      v = await verify();
      assert.equal(v.ok, false);
      assert.match(v.reason, /no audit head record/);
      // A running server writes the head again with its next batch (verify's own record).
      assert.equal((await verify()).ok, true);

      // Unsealed without a head, the writer cannot tell what was lost: it says so in the chain.
      await t.core.sealNow();
      db.prepare("DELETE FROM audit_head").run();
      await t.core.unseal(decodeShare(t.unsealKeys[0]!));
      // The chain verifies from the note on, and every verify names the note.
      const after = await verify();
      assert.equal(after.ok, true);
      assert.equal(after.anomalies.length, 1);
      assert.match(after.anomalies[0].error, /no audit head record at unseal/);
      const keyFile = `${t.dir}/audit.key`;
      await Deno.writeTextFile(keyFile, (await t.req("GET", "/v1/sys/audit/key")).body.data.key);
      await t.core.sealNow();
      const off = await offline(t.dbFile, { keyFile });
      assert.equal(off.code, 2, off.out);
      await t.core.unseal(decodeShare(t.unsealKeys[0]!));
      const rows = [...t.core.physical.auditRows()];
      const note = rows.find((r) => r.entry.type === "anomaly");
      assert.ok(note, "an anomaly record");
      assert.match(String(note.entry.error), /no audit head record at unseal/);
      assert.ok(note.seq > head.seq);
    } finally {
      db.close();
    }
  } finally {
    await t.close();
  }
});

Deno.test("audit verify names a stored line edited to the same JSON value (spaces, 2e2)", async () => {
  const t = await startTestCore();
  try {
    for (let i = 0; i < 4; i++) await t.req("POST", `/v1/secret/data/n${i}`, { data: { v: "x" } });
    const keyFile = `${t.dir}/audit.key`;
    await Deno.writeTextFile(keyFile, (await t.req("GET", "/v1/sys/audit/key")).body.data.key);
    const db = new Database(t.dbFile);
    db.exec("PRAGMA busy_timeout = 5000");
    try {
      const seq = 4;
      const rec = auditLine(db, seq);
      assert.match(rec.line, /"status":200/);
      for (
        const edited of [
          rec.line.replace('"operation":', '"operation": '),
          rec.line.replace('"status":200', '"status":2e2'),
        ]
      ) {
        assert.notEqual(edited, rec.line);
        assert.deepEqual(JSON.parse(edited), JSON.parse(rec.line));
        rec.put(edited);
        const v = (await t.req("GET", "/v1/sys/audit/verify")).body.data;
        assert.deepEqual([v.ok, v.first_bad_seq], [false, seq], edited);
        const off = await offline(t.dbFile, { keyFile });
        assert.equal(off.code, 1);
        assert.equal(JSON.parse(off.out).first_bad_seq, seq);
      }
      rec.put(rec.line);
      assert.equal((await t.req("GET", "/v1/sys/audit/verify")).body.data.ok, true);
    } finally {
      db.close();
    }
  } finally {
    await t.close();
  }
});

Deno.test("offline verify names records put after the signed head while the server was stopped", async () => {
  const t = await startTestCore();
  try {
    for (let i = 0; i < 4; i++) await t.req("POST", `/v1/secret/data/f${i}`, { data: { v: "x" } });
    const keyFile = `${t.dir}/audit.key`;
    await Deno.writeTextFile(keyFile, (await t.req("GET", "/v1/sys/audit/key")).body.data.key);
    // Sealed, nothing commits: as good as stopped for the file.
    await t.core.sealNow();
    assert.equal((await offline(t.dbFile, { keyFile })).code, 0);
    const db = new Database(t.dbFile);
    db.exec("PRAGMA busy_timeout = 5000");
    try {
      const head = (db.prepare("SELECT seq FROM audit_head").get() as { seq: number }).seq;
      // A forged block after the head: a copy of the last one, renumbered.
      const last = db.prepare(
        "SELECT first_seq, last_seq, last_hash, lines FROM audit_block ORDER BY first_seq DESC",
      ).get() as { first_seq: number; last_seq: number; last_hash: string; lines: string };
      assert.equal(last.last_seq, head);
      const n = last.last_seq - last.first_seq + 1;
      db.prepare("INSERT INTO audit_block VALUES (?, ?, ?, ?)").run(
        head + 1,
        head + n,
        last.last_hash,
        last.lines,
      );
      const off = await offline(t.dbFile, { keyFile });
      assert.equal(off.code, 1, off.out);
      const r = JSON.parse(off.out);
      assert.equal(r.first_bad_seq, head + 1);
      assert.equal(r.reason, `records after the audit head at seq ${head}`);
    } finally {
      db.close();
    }
  } finally {
    await t.close();
  }
});

Deno.test("an audit chain emptied of every record and its head row is noted at unseal", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secret/data/wiped", { data: { v: "x" } });
    await t.core.sealNow();
    const db = new Database(t.dbFile);
    db.exec("PRAGMA busy_timeout = 5000");
    try {
      // What an attacker with the file would do to make the log look new: every record gone.
      db.exec("DELETE FROM audit_block; DELETE FROM audit; DELETE FROM audit_head");
    } finally {
      db.close();
    }
    await t.core.unseal(decodeShare(t.unsealKeys[0]!));
    // The writer links the note when it takes the key; this request's records come after it.
    assert.equal((await t.req("GET", "/v1/secret/data/wiped")).status, 200);
    const rows = [...t.core.physical.auditRows()];
    assert.equal(rows[0]?.seq, 1);
    assert.equal(rows[0]?.entry.type, "anomaly");
    assert.match(String(rows[0]?.entry.error), /no audit records and no audit head record/);
  } finally {
    await t.close();
  }
});
