/**
 * sys/audit/:path (file devices) and sys/audit-hash/:path: a path is enabled once, as in Vault
 * ("path already in use"), and audit-hash names an enabled device. The device table survives a
 * restart of the server process.
 */
import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";
import { call, initAndUnseal, startServerProcess } from "../helpers/server_process.ts";

Deno.test("sys/audit-hash of a device that is not enabled is a 400", async () => {
  const t = await startTestCore();
  try {
    let r = await t.req("PUT", "/v1/sys/audit-hash/nope", { input: "x" });
    assert.equal(r.status, 400);
    assert.match(r.body.errors.join(" "), /unknown audit device "nope\/"/);
    const file = { type: "file", options: { file_path: `${t.dir}/a.log` } };
    assert.equal((await t.req("PUT", "/v1/sys/audit/file", file)).status, 204);
    r = await t.req("PUT", "/v1/sys/audit-hash/file", { input: "x" });
    assert.equal(r.status, 200, r.text);
    assert.match(r.body.data.hash, /^hmac-sha256:[0-9a-f]{64}$/);
    assert.equal(r.body.hash, r.body.data.hash); // top-level injection, as Vault does
    assert.equal((await t.req("PUT", "/v1/sys/audit-hash/nope", { input: "x" })).status, 400);
    // Disabled again: unknown again.
    assert.equal((await t.req("DELETE", "/v1/sys/audit/file")).status, 204);
    assert.equal((await t.req("PUT", "/v1/sys/audit-hash/file", { input: "x" })).status, 400);
  } finally {
    await t.close();
  }
});

Deno.test("sys/audit: enabling a path twice is a 400 'path already in use' that keeps the device; disable, then enable works", async () => {
  const t = await startTestCore();
  try {
    const first = `${t.dir}/first.log`;
    const second = `${t.dir}/second.log`;
    const enable = (path: string, file_path: string) =>
      t.req("PUT", `/v1/sys/audit/${path}`, { type: "file", options: { file_path } });
    const devices = async () => (await t.req("GET", "/v1/sys/audit")).body.data;

    assert.equal((await enable("file", first)).status, 204);
    for (const [path, file] of [["file", first], ["file", second], ["file/", second]]) {
      const r = await enable(path!, file!);
      assert.equal(r.status, 400, `${path} ${file}: ${r.text}`);
      assert.match(r.body.errors.join(" "), /path already in use/);
    }
    // A path under or above an enabled one overlaps it (Vault's enableAudit refuses both).
    assert.equal((await enable("file/sub", second)).status, 400);
    assert.deepEqual(Object.keys(await devices()), ["file/"]);
    assert.equal((await devices())["file/"].options.file_path, first);
    // The refused enables did not reopen the device: it still writes to the first file.
    await t.req("GET", "/v1/secret/data/after-refusal");
    assert.match(await Deno.readTextFile(first), /after-refusal/);
    await Deno.stat(second).then(() => assert.fail("second file was opened"), () => {});

    assert.equal((await t.req("DELETE", "/v1/sys/audit/file")).status, 204);
    assert.deepEqual(await devices(), {});
    assert.equal((await enable("file", second)).status, 204);
    assert.equal((await devices())["file/"].options.file_path, second);
    await t.req("GET", "/v1/secret/data/after-reenable");
    assert.match(await Deno.readTextFile(second), /after-reenable/);
    assert.doesNotMatch(await Deno.readTextFile(first), /after-reenable/);
    // Other paths are independent devices.
    assert.equal((await enable("other", first)).status, 204);
    assert.deepEqual(Object.keys(await devices()).sort(), ["file/", "other/"]);
  } finally {
    await t.close();
  }
});

Deno.test("sys/audit: the device table survives a restart, and its path is still in use after it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-auditdev-" });
  let srv = await startServerProcess(dir);
  try {
    const { token: root, key } = await initAndUnseal(srv.url);
    const logFile = `${dir}/audit.log`;
    const device = { type: "file", description: "d", options: { file_path: logFile } };
    let r = await call(srv.url, "PUT", "/v1/sys/audit/file", device, root);
    assert.equal(r.status, 204);
    await call(srv.url, "GET", "/v1/secret/data/before-restart", undefined, root);
    await srv.kill();

    srv = await startServerProcess(dir);
    await call(srv.url, "PUT", "/v1/sys/unseal", { key });
    r = await call(srv.url, "GET", "/v1/sys/audit", undefined, root);
    assert.deepEqual(r.body.data["file/"], {
      type: "file",
      description: "d",
      options: { file_path: logFile },
      local: false,
      path: "file/",
    });
    r = await call(srv.url, "PUT", "/v1/sys/audit/file", device, root);
    assert.equal(r.status, 400);
    assert.match(r.body.errors.join(" "), /path already in use/);
    r = await call(srv.url, "PUT", "/v1/sys/audit-hash/file", { input: "x" }, root);
    assert.equal(r.status, 200);
    await call(srv.url, "GET", "/v1/secret/data/after-restart", undefined, root);
    const text = await Deno.readTextFile(logFile);
    assert.match(text, /before-restart/);
    assert.match(text, /after-restart/);
  } finally {
    await srv.kill("SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
