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

Deno.test("sys/audit: a device that cannot write (disk full) fails no request and skips no other device", async () => {
  const t = await startTestCore();
  try {
    const good = `${t.dir}/good.log`;
    // /dev/full takes every open and refuses every write with ENOSPC, as a full disk does.
    // Enabled first, so the good device comes after it in the loop.
    let r = await t.req("PUT", "/v1/sys/audit/full", {
      type: "file",
      options: { file_path: "/dev/full" },
    });
    assert.equal(r.status, 204, r.text);
    r = await t.req("PUT", "/v1/sys/audit/good", { type: "file", options: { file_path: good } });
    assert.equal(r.status, 204, r.text);
    const before = t.core.audit.failures;
    r = await t.req("POST", "/v1/secret/data/enospc", { data: { v: "x" } });
    assert.equal(r.status, 200, r.text);
    r = await t.req("GET", "/v1/secret/data/enospc");
    assert.equal(r.status, 200, r.text);
    r = await t.req("PUT", "/v1/sys/audit/third", {
      type: "file",
      options: { file_path: `${t.dir}/third.log` },
    });
    assert.equal(r.status, 204, r.text);
    assert.ok(Object.keys((await t.req("GET", "/v1/sys/audit")).body.data).includes("third/"));
    assert.equal((await t.req("GET", "/v1/secret/data/enospc")).status, 200);
    // The failures are counted, and every record still reached the good device.
    assert.ok(t.core.audit.failures > before, `${t.core.audit.failures} > ${before}`);
    const lines = (await Deno.readTextFile(good)).trim().split("\n").map((l) => JSON.parse(l));
    const paths = lines.map((l) => `${l.entry.operation} ${l.entry.path}`);
    assert.ok(paths.includes("create secret/data/enospc"), paths.join());
    assert.ok(paths.includes("read secret/data/enospc"), paths.join());
    assert.ok(paths.includes("update sys/audit/third"), paths.join());
    assert.equal((await t.req("GET", "/v1/sys/audit/verify")).body.data.ok, true);
  } finally {
    await t.close();
  }
});

Deno.test("sys/audit: options.mode sets the file's mode even when it exists; listed; octal only", async () => {
  const t = await startTestCore();
  try {
    const enable = (path: string, options: Record<string, unknown>) =>
      t.req("PUT", `/v1/sys/audit/${path}`, { type: "file", options });
    const modeOf = async (f: string) => (await Deno.stat(f)).mode! & 0o777;
    const existing = `${t.dir}/existing.log`;
    await Deno.writeTextFile(existing, "");
    await Deno.chmod(existing, 0o644);
    assert.equal((await enable("a", { file_path: existing })).status, 204);
    assert.equal(await modeOf(existing), 0o600); // Vault's default, applied to an existing file

    const custom = `${t.dir}/custom.log`;
    await Deno.writeTextFile(custom, "");
    await Deno.chmod(custom, 0o644);
    assert.equal((await enable("b", { file_path: custom, mode: "0640" })).status, 204);
    assert.equal(await modeOf(custom), 0o640);
    const listed = (await t.req("GET", "/v1/sys/audit")).body.data;
    assert.deepEqual(listed["b/"].options, { file_path: custom, mode: "0640" });

    // "0000": leave the mode as it is.
    const kept = `${t.dir}/kept.log`;
    await Deno.writeTextFile(kept, "");
    await Deno.chmod(kept, 0o604);
    assert.equal((await enable("c", { file_path: kept, mode: "0000" })).status, 204);
    assert.equal(await modeOf(kept), 0o604);

    for (const mode of ["0999", "rw", "", "-1", 600]) {
      const r = await enable("d", { file_path: `${t.dir}/d.log`, mode });
      assert.equal(r.status, 400, `${JSON.stringify(mode)}: ${r.text}`);
      assert.match(r.body.errors.join(" "), /mode/);
    }
  } finally {
    await t.close();
  }
});

Deno.test('sys/audit-hash decodes input weakly, as Vault: 4711 is "4711", true is "1"', async () => {
  const t = await startTestCore();
  try {
    const file = { type: "file", options: { file_path: `${t.dir}/a.log` } };
    assert.equal((await t.req("PUT", "/v1/sys/audit/file", file)).status, 204);
    const hash = async (input: unknown) => {
      const r = await t.req("PUT", "/v1/sys/audit-hash/file", { input });
      assert.equal(r.status, 200, `${JSON.stringify(input)}: ${r.text}`);
      return r.body.data.hash;
    };
    assert.equal(await hash(4711), await hash("4711"));
    assert.equal(await hash(true), await hash("1"));
    assert.equal(await hash(false), await hash("0"));
    // The tag a numeric secret gets in the audit log is what audit-hash of the number gives.
    await t.req("POST", "/v1/secret/data/pin", { data: { pin: 4711 } });
    assert.match(await Deno.readTextFile(`${t.dir}/a.log`), new RegExp(await hash(4711)));
    for (const input of [null, { a: 1 }, [1]]) {
      const r = await t.req("PUT", "/v1/sys/audit-hash/file", { input });
      assert.equal(r.status, 400, r.text);
    }
  } finally {
    await t.close();
  }
});

Deno.test("sys/seal: reads answered while the seal runs all reach the file device", async () => {
  const t = await startTestCore();
  try {
    const log = `${t.dir}/race.log`;
    let r = await t.req("PUT", "/v1/sys/audit/file", { type: "file", options: { file_path: log } });
    assert.equal(r.status, 204);
    await t.req("POST", "/v1/secret/data/race", { data: { v: "x" } });
    // The identity PKI writes its CA in the background after unseal; that commit must not be
    // the one that triggers the seal below (then no read would be answered).
    assert.equal((await t.req("GET", "/v1/sys/agent/ca", undefined, null)).status, 200);
    // The worst moment for a seal: the reads' records are committed (their replies will be
    // 200) and the broker has not yet handed them to the file device.
    const physical = t.core.physical;
    const transaction = physical.transaction.bind(physical);
    let sealing: Promise<void> | undefined;
    physical.transaction = (writes, audit, links) => {
      const p = transaction(writes, audit, links);
      void p.then(() => sealing ??= t.core.sealNow(), () => {});
      return p;
    };
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => t.req("GET", "/v1/secret/data/race")),
    );
    physical.transaction = transaction;
    await sealing;
    assert.equal(t.core.sealed, true);
    const ok = answers.filter((a) => a.status === 200).map((a) => a.body.request_id as string);
    assert.ok(ok.length > 0, "some reads were answered");
    const logged = new Set(
      (await Deno.readTextFile(log)).trim().split("\n").map((l) => JSON.parse(l).entry.request_id),
    );
    const missing = ok.filter((id) => !logged.has(id));
    assert.deepEqual(
      missing,
      [],
      `${missing.length} of ${ok.length} answered reads not in the file`,
    );
    r = await t.req("PUT", "/v1/sys/unseal", { key: t.unsealKeys[0] });
    assert.equal(r.body.sealed, false);
  } finally {
    await t.close();
  }
});

Deno.test("unseal fails closed, naming the device and the reason, when a device's file cannot be opened", async () => {
  const t = await startTestCore();
  try {
    const dir = `${t.dir}/logs`;
    await Deno.mkdir(dir);
    let r = await t.req("PUT", "/v1/sys/audit/file", {
      type: "file",
      options: { file_path: `${dir}/audit.log` },
    });
    assert.equal(r.status, 204);
    await t.core.sealNow();
    await Deno.remove(dir, { recursive: true });
    r = await t.req("PUT", "/v1/sys/unseal", { key: t.unsealKeys[0] });
    assert.equal(r.status, 500, r.text);
    const msg = r.body.errors.join(" ");
    assert.match(msg, /failed to setup audit table/);
    assert.match(msg, /"file\/"/);
    assert.match(msg, /ENOENT|no such file/i);
    assert.equal(t.core.sealed, true);
    assert.equal((await t.req("GET", "/v1/sys/seal-status")).body.sealed, true);
    // Fixed, the next unseal works and the device writes again.
    await Deno.mkdir(dir);
    r = await t.req("PUT", "/v1/sys/unseal", { key: t.unsealKeys[0] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.sealed, false);
    assert.equal((await t.req("GET", "/v1/secret/data/fixed")).status, 404);
    assert.match(await Deno.readTextFile(`${dir}/audit.log`), /secret\/data\/fixed/);
  } finally {
    await t.close();
  }
});

Deno.test("SIGHUP reopens the file devices (logrotate) and the server keeps running", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-sighup-" });
  const srv = await startServerProcess(dir);
  try {
    const { token: root } = await initAndUnseal(srv.url);
    const logFile = `${dir}/audit.log`;
    let r = await call(srv.url, "PUT", "/v1/sys/audit/file", {
      type: "file",
      options: { file_path: logFile },
    }, root);
    assert.equal(r.status, 204);
    await call(srv.url, "GET", "/v1/secret/data/before-rotate", undefined, root);
    await Deno.rename(logFile, `${logFile}.1`);
    Deno.kill(srv.child.pid, "SIGHUP");
    // The signal is handled asynchronously: wait for the new file to appear.
    for (let i = 0; i < 50; i++) {
      if (await Deno.stat(logFile).then(() => true, () => false)) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    r = await call(srv.url, "GET", "/v1/secret/data/after-rotate", undefined, root);
    assert.equal(r.status, 404);
    assert.equal((await call(srv.url, "GET", "/v1/sys/health")).status, 200);
    const fresh = await Deno.readTextFile(logFile);
    assert.match(fresh, /after-rotate/);
    assert.doesNotMatch(fresh, /before-rotate/);
    const old = await Deno.readTextFile(`${logFile}.1`);
    assert.match(old, /before-rotate/);
    assert.doesNotMatch(old, /after-rotate/);
  } finally {
    await srv.kill("SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
