import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).includes(Buffer.from(needle));
}

Deno.test("1,000 secrets with random values leave 0 plaintext hits in the DB, WAL and audit data", async () => {
  const t = await startTestCore();
  try {
    const auditFile = `${t.dir}/audit.log`;
    assert.equal(
      (await t.req("PUT", "/v1/sys/audit/file", {
        type: "file",
        options: { file_path: auditFile },
      })).status,
      204,
    );
    const values: string[] = [];
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 50 }, async (_, i) => {
        const v = `pt-${crypto.randomUUID()}`;
        values.push(v);
        const r = await t.req("POST", `/v1/secret/data/zp/${batch}/${i}`, {
          data: { value: v, nested: { again: v } },
        });
        assert.equal(r.status, 200);
      }));
    }
    // Read a few back, so response audit entries carrying the values exist too.
    for (let i = 0; i < 20; i++) {
      const r = await t.req("GET", `/v1/secret/data/zp/${i}/0`);
      assert.ok(values.includes(r.body.data.data.value));
    }
    const files = [t.dbFile, `${t.dbFile}-wal`, auditFile];
    const blobs = await Promise.all(files.map(async (f) => {
      try {
        return await Deno.readFile(f);
      } catch {
        return new Uint8Array();
      }
    }));
    assert.ok(blobs[0]!.length + blobs[1]!.length > 100_000, "the database holds the data");
    assert.ok(blobs[2]!.length > 10_000, "the audit file was written");
    // One pass per file: every value starts with "pt-", so look at each "pt-" occurrence
    // (36 UUID characters follow) instead of scanning the files once per value.
    const wanted = new Set(values);
    let hits = 0;
    for (const b of blobs) {
      const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
      for (let i = text.indexOf("pt-"); i !== -1; i = text.indexOf("pt-", i + 1)) {
        if (wanted.has(text.slice(i, i + 39))) hits++;
      }
      if (text.includes(t.rootToken)) hits++;
    }
    assert.equal(hits, 0);
    // The scanner itself finds what is there.
    assert.ok(contains(blobs[2]!, new TextEncoder().encode("zp/0/0")));
    assert.ok(values.every((v) => v.length === 39));
  } finally {
    await t.close();
  }
});

Deno.test("a secret that is a number is not in the clear in the DB, WAL or audit data either", async () => {
  const t = await startTestCore();
  try {
    const auditFile = `${t.dir}/audit.log`;
    await t.req("PUT", "/v1/sys/audit/file", { type: "file", options: { file_path: auditFile } });
    // 15 digits: never in any other data by chance, and a safe integer in JSON.
    const pins = Array.from(
      { length: 20 },
      () => 100_000_000_000_000 + Math.floor(Math.random() * 8e14),
    );
    for (const [i, pin] of pins.entries()) {
      const w = await t.req("POST", `/v1/secret/data/pins/${i}`, { data: { pin, list: [pin] } });
      assert.equal(w.status, 200);
      const r = await t.req("GET", `/v1/secret/data/pins/${i}`);
      assert.equal(r.body.data.data.pin, pin);
    }
    let text = "";
    for (const f of [t.dbFile, `${t.dbFile}-wal`, auditFile]) {
      const b = await Deno.readFile(f).catch(() => new Uint8Array());
      text += Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
    }
    assert.ok(text.includes("pins/0"), "the scan sees the audit data");
    assert.deepEqual(pins.filter((p) => text.includes(String(p))), []);
  } finally {
    await t.close();
  }
});

Deno.test("token accessors are in no storage key: 0 hits in the DB, WAL and audit data", async () => {
  const t = await startTestCore();
  try {
    const auditFile = `${t.dir}/audit.log`;
    await t.req("PUT", "/v1/sys/audit/file", { type: "file", options: { file_path: auditFile } });
    await t.req("PUT", "/v1/sys/policies/acl/mk", {
      policy: `path "auth/token/create" { capabilities = ["update"] }`,
    });
    const accessors: string[] = [];
    const tokens: string[] = [];
    // Ten families: a parent and three children each.
    for (let i = 0; i < 40; i++) {
      const parent = i % 4 === 0 ? undefined : tokens[i - (i % 4)];
      const r = await t.req("POST", "/v1/auth/token/create", { policies: ["mk"] }, parent);
      assert.equal(r.status, 200);
      accessors.push(r.body.auth.accessor);
      tokens.push(r.body.auth.client_token);
    }
    // Every way in by accessor still works, and each puts the accessor in a request.
    const list = await t.req("LIST", "/v1/auth/token/accessors");
    for (const a of accessors) assert.ok(list.body.data.keys.includes(a));
    for (const a of accessors.slice(0, 10)) {
      const r = await t.req("POST", "/v1/auth/token/lookup-accessor", { accessor: a });
      assert.equal(r.body.data.accessor, a);
    }
    await t.req("POST", "/v1/auth/token/renew-accessor", { accessor: accessors[1] });
    await t.req("POST", "/v1/auth/token/revoke-accessor", { accessor: accessors[2] });
    await t.req("POST", "/v1/auth/token/revoke-orphan", { token: tokens[4] });
    await t.req("POST", "/v1/auth/token/revoke", { token: tokens[8] });
    assert.equal((await t.req("POST", "/v1/auth/token/tidy")).status, 200);

    let text = "";
    for (const f of [t.dbFile, `${t.dbFile}-wal`, auditFile]) {
      const b = await Deno.readFile(f).catch(() => new Uint8Array());
      text += Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1");
    }
    assert.ok(text.includes("auth/token/lookup-accessor"), "the scan sees the audit data");
    assert.ok(text.includes("sys/token/accessor/"), "the scan sees the storage keys");
    assert.deepEqual(accessors.filter((a) => text.includes(a)), []);
  } finally {
    await t.close();
  }
});
