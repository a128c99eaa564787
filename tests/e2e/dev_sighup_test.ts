/**
 * `server -dev` handles SIGHUP as a configured server does (file devices reopen their files)
 * instead of dying of it and leaving its temporary storage behind.
 */
import assert from "node:assert/strict";
import { call, freePort, spawnServer } from "../helpers/server_process.ts";

Deno.test("server -dev survives SIGHUP and reopens its audit files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-dev-sighup-" });
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawnServer([
    "-dev",
    "-dev-root-token-id",
    "root",
    "-dev-listen-address",
    `127.0.0.1:${port}`,
    "-dev-agent-listen-address",
    `127.0.0.1:${freePort()}`,
    "-log-level",
    "warn",
  ], "piped");
  const stderr = new Response(child.stderr).text();
  let exited: Deno.CommandStatus | null = null;
  void child.status.then((s) => exited = s);
  try {
    for (let i = 0;; i++) {
      const up = await fetch(`${url}/v1/sys/health`).then(async (r) => {
        await r.body?.cancel();
        return r.status === 200;
      }, () => false);
      if (up) break;
      if (exited || i > 200) assert.fail(`dev server did not start: ${await stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const logFile = `${dir}/audit.log`;
    const r = await call(url, "PUT", "/v1/sys/audit/file", {
      type: "file",
      options: { file_path: logFile },
    }, "root");
    assert.equal(r.status, 204);
    await call(url, "GET", "/v1/secret/data/before-rotate", undefined, "root");
    await Deno.rename(logFile, `${logFile}.1`);
    Deno.kill(child.pid, "SIGHUP");
    for (let i = 0; i < 50; i++) {
      if (exited || await Deno.stat(logFile).then(() => true, () => false)) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(exited, null, "SIGHUP ended the dev server");
    assert.equal((await call(url, "GET", "/v1/sys/health")).status, 200);
    await call(url, "GET", "/v1/secret/data/after-rotate", undefined, "root");
    assert.match(await Deno.readTextFile(logFile), /after-rotate/);
    assert.doesNotMatch(await Deno.readTextFile(`${logFile}.1`), /after-rotate/);

    // SIGTERM still ends it cleanly, removing its storage.
    child.kill("SIGTERM");
    const st = await child.status;
    assert.equal(st.code, 0);
    const storage = (await stderr).match(/Storage:\s+(\S+)/)?.[1];
    assert.ok(storage, "banner names the storage dir");
    assert.equal(await Deno.stat(storage).then(() => true, () => false), false);
  } finally {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }
    await child.status;
    await stderr.catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
