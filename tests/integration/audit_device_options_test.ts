/**
 * QA findings on sys/audit: Vault options SecretHub does not implement are refused by name (their
 * Vault defaults are accepted), file_path is absolute, "stdout" or "discard", one file is written
 * by one device, and audit-hash refuses an empty input as Vault does.
 */
import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";

Deno.test("sys/audit: an option SecretHub does not act on is a 400 naming it; Vault's defaults are accepted", async () => {
  const t = await startTestCore();
  try {
    const file_path = `${t.dir}/a.log`;
    const enable = (path: string, body: Record<string, unknown>) =>
      t.req("PUT", `/v1/sys/audit/${path}`, { type: "file", ...body });
    const refused: [string, Record<string, unknown>][] = [
      ["hmac_accessor", { options: { file_path, hmac_accessor: "false" } }],
      ["hmac_accessor", { options: { file_path, hmac_accessor: false } }],
      ["log_raw", { options: { file_path, log_raw: "true" } }],
      ["log_raw", { options: { file_path, log_raw: true } }],
      ["format", { options: { file_path, format: "jsonx" } }],
      ["prefix", { options: { file_path, prefix: "@cee: " } }],
      ["elide_list_responses", { options: { file_path, elide_list_responses: "true" } }],
      ["fallback", { options: { file_path, fallback: "true" } }],
      ["no_such_option", { options: { file_path, no_such_option: "x" } }],
      ["local", { options: { file_path }, local: true }],
      ["local", { options: { file_path }, local: "true" }],
    ];
    for (const [name, body] of refused) {
      const r = await enable("dev", body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(r.body.errors.join(" "), new RegExp(name), JSON.stringify(body));
    }
    assert.deepEqual((await t.req("GET", "/v1/sys/audit")).body.data, {});

    const defaults = {
      file_path,
      format: "json",
      hmac_accessor: "true",
      log_raw: "false",
      prefix: "",
      elide_list_responses: "false",
    };
    let r = await enable("dev", { options: defaults, local: false });
    assert.equal(r.status, 204, r.text);
    r = await enable("dev2", {
      options: { file_path: `${t.dir}/b.log`, hmac_accessor: true, log_raw: false },
      local: "false",
    });
    assert.equal(r.status, 204, r.text);
    const listed = (await t.req("GET", "/v1/sys/audit")).body.data;
    assert.deepEqual(listed["dev/"].options, { file_path });
  } finally {
    await t.close();
  }
});

Deno.test("sys/audit: file_path must be absolute (or stdout/discard)", async () => {
  const t = await startTestCore();
  const cwd = Deno.cwd();
  try {
    Deno.chdir(t.dir);
    for (const file_path of ["relative.log", "./x.log", "logs/../y.log", "Stdout"]) {
      const r = await t.req("PUT", "/v1/sys/audit/rel", { type: "file", options: { file_path } });
      assert.equal(r.status, 400, `${file_path}: ${r.text}`);
      assert.match(r.body.errors.join(" "), /file_path.*absolute/);
    }
    assert.equal(await Deno.stat(`${t.dir}/relative.log`).then(() => true, () => false), false);
    assert.deepEqual((await t.req("GET", "/v1/sys/audit")).body.data, {});
  } finally {
    Deno.chdir(cwd);
    await t.close();
  }
});

Deno.test("sys/audit: a second device on the same file is a 400 naming the first", async () => {
  const t = await startTestCore();
  try {
    const enable = (path: string, file_path: string) =>
      t.req("PUT", `/v1/sys/audit/${path}`, { type: "file", options: { file_path } });
    const log = `${t.dir}/a.log`;
    assert.equal((await enable("one", log)).status, 204);
    for (const same of [log, `${t.dir}//a.log`, `${t.dir}/./a.log`, `${t.dir}/x/../a.log`]) {
      const r = await enable("two", same);
      assert.equal(r.status, 400, `${same}: ${r.text}`);
      assert.match(r.body.errors.join(" "), /"one\/"/);
    }
    await t.req("GET", "/v1/secret/data/once");
    const hits = (await Deno.readTextFile(log)).split("\n").filter((l) => l.includes("once"));
    assert.equal(hits.length, 1);
    // Freed by a disable.
    assert.equal((await t.req("DELETE", "/v1/sys/audit/one")).status, 204);
    assert.equal((await enable("two", log)).status, 204);
    // Records dropped on purpose are no one's file: several devices may discard.
    assert.equal((await enable("d1", "discard")).status, 204);
    assert.equal((await enable("d2", "discard")).status, 204);
  } finally {
    await t.close();
  }
});

Deno.test('sys/audit: file_path "discard" is a device that writes nothing', async () => {
  const t = await startTestCore();
  const cwd = Deno.cwd();
  try {
    Deno.chdir(t.dir);
    let r = await t.req("PUT", "/v1/sys/audit/null", {
      type: "file",
      options: { file_path: "discard" },
    });
    assert.equal(r.status, 204, r.text);
    r = await t.req("GET", "/v1/sys/audit");
    assert.deepEqual(r.body.data["null/"].options, { file_path: "discard" });
    assert.equal((await t.req("GET", "/v1/secret/data/x")).status, 404);
    assert.equal(await Deno.stat(`${t.dir}/discard`).then(() => true, () => false), false);
    // mode means nothing without a file.
    r = await t.req("PUT", "/v1/sys/audit/null2", {
      type: "file",
      options: { file_path: "discard", mode: "0640" },
    });
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors.join(" "), /mode/);
    assert.equal((await t.req("GET", "/v1/sys/audit/verify")).body.data.ok, true);
  } finally {
    Deno.chdir(cwd);
    await t.close();
  }
});

Deno.test("the file device's lines hold the entry once (no entryJson)", async () => {
  const t = await startTestCore();
  try {
    const log = `${t.dir}/a.log`;
    const r = await t.req("PUT", "/v1/sys/audit/file", {
      type: "file",
      options: { file_path: log },
    });
    assert.equal(r.status, 204);
    await t.req("GET", "/v1/secret/data/shape");
    const rows = (await Deno.readTextFile(log)).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.ok(rows.length >= 1);
    for (const row of rows) {
      assert.deepEqual(Object.keys(row).sort(), ["entry", "hash", "mac", "prevHash", "seq"]);
    }
    assert.ok(rows.some((row) => row.entry.path === "secret/data/shape"));
    assert.equal((await t.req("GET", "/v1/sys/audit/verify")).body.data.ok, true);
  } finally {
    await t.close();
  }
});

Deno.test('sys/audit-hash of an empty input is Vault\'s 400 the "input" parameter is empty', async () => {
  const t = await startTestCore();
  try {
    const file = { type: "file", options: { file_path: `${t.dir}/a.log` } };
    assert.equal((await t.req("PUT", "/v1/sys/audit/file", file)).status, 204);
    for (const body of [{ input: "" }, {}]) {
      const r = await t.req("PUT", "/v1/sys/audit-hash/file", body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.deepEqual(r.body.errors, ['the "input" parameter is empty']);
    }
    assert.equal((await t.req("PUT", "/v1/sys/audit-hash/file", { input: "0" })).status, 200);
  } finally {
    await t.close();
  }
});
