import assert from "node:assert/strict";
import { call, initAndUnseal, startServerProcess } from "../helpers/server_process.ts";

Deno.test("every acknowledged write survives kill -9 of the server, and the audit chain verifies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-dur-" });
  let srv = await startServerProcess(dir);
  try {
    const { token: root, key } = await initAndUnseal(srv.url);

    const acked = new Map<string, string>();
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const path = `dur/w${w}/k${i}`;
        const value = crypto.randomUUID();
        try {
          const r = await call(
            srv.url,
            "POST",
            `/v1/secret/data/${path}`,
            { data: { value } },
            root,
          );
          if (r.status === 200) acked.set(path, value);
        } catch {
          return; // connection cut by the kill
        }
      }
    };
    const writers = Array.from({ length: 16 }, (_, w) => writer(w));
    while (acked.size < 400) await new Promise((r) => setTimeout(r, 5));
    await srv.kill("SIGKILL");
    stop = true;
    await Promise.all(writers);
    assert.ok(acked.size >= 400);

    srv = await startServerProcess(dir);
    assert.equal((await call(srv.url, "GET", "/v1/sys/seal-status")).body.sealed, true);
    await call(srv.url, "PUT", "/v1/sys/unseal", { key });
    for (const [path, value] of acked) {
      const r = await call(srv.url, "GET", `/v1/secret/data/${path}`, undefined, root);
      assert.equal(r.status, 200, path);
      assert.equal(r.body.data.data.value, value, path);
    }
    const v = await call(srv.url, "GET", "/v1/sys/audit/verify", undefined, root);
    assert.equal(v.body.data.ok, true, JSON.stringify(v.body));
    assert.ok(v.body.data.checked >= acked.size * 2);
  } finally {
    await srv.kill("SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
