/**
 * The listener's drain at shutdown (core/server.ts): requests in flight, uploads included, finish
 * within the grace period; new ones get 503 at once; those still running when it ends get 503.
 * The storage is closed only after that. Real SIGTERM runs are in tests/e2e/server_shutdown_test.ts.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { bindListener } from "../../core/server.ts";
import type { Core } from "../../core/core.ts";
import type { AppEnv } from "../../core/http/app.ts";
import { setLogLevel } from "../../core/log.ts";

setLogLevel("error");

function fakeCore(events: string[]): Core {
  return { close: () => (events.push("core closed"), Promise.resolve()) } as unknown as Core;
}

/** An app whose POST reads its whole body, as the pipeline does, and answers its length. */
function app(events: string[]): Hono<AppEnv> {
  const a = new Hono<AppEnv>();
  a.post("/v1/upload", async (c) => {
    const n = (await c.req.arrayBuffer()).byteLength;
    events.push(`read ${n}`);
    return c.json({ bytes: n });
  });
  a.get("/v1/x", (c) => c.text("ok"));
  // A handler cut short reads BadResource once the server is shut down; nobody gets its answer.
  a.onError((e, c) => {
    events.push(`abandoned: ${e.name}`);
    return c.text("", 500);
  });
  return a;
}

/** A body that arrives in `chunks` pieces of 1 KiB, one every `everyMs`. */
function trickle(chunks: number, everyMs: number): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    async pull(ctl) {
      if (i++ === chunks) return ctl.close();
      await new Promise((r) => setTimeout(r, everyMs));
      ctl.enqueue(new Uint8Array(1024));
    },
  });
}

Deno.test("drain: an upload in flight completes; a request arriving meanwhile gets 503", async () => {
  const events: string[] = [];
  const srv = bindListener("127.0.0.1:0").attach(fakeCore(events), app(events));
  const upload = fetch(`${srv.url}/v1/upload`, { method: "POST", body: trickle(10, 50) });
  await new Promise((r) => setTimeout(r, 150));
  const stopping = srv.shutdown(5_000);
  const late = await fetch(`${srv.url}/v1/x`);
  assert.equal(late.status, 503);
  assert.equal(late.headers.get("connection"), "close");
  assert.deepEqual(await late.json(), { errors: ["server is shutting down"] });
  const r = await upload;
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { bytes: 10 * 1024 });
  await stopping;
  assert.deepEqual(events, ["read 10240", "core closed"]);
});

Deno.test("drain: past the grace period a request still uploading gets 503, then storage closes", async () => {
  const events: string[] = [];
  const srv = bindListener("127.0.0.1:0").attach(fakeCore(events), app(events));
  const body = trickle(100, 50); // 5 s of upload
  const upload = fetch(`${srv.url}/v1/upload`, { method: "POST", body });
  await new Promise((r) => setTimeout(r, 150));
  const started = Date.now();
  const cut = await srv.drain(300);
  assert.equal(cut, 1);
  assert.ok(Date.now() - started < 2_000);
  const r = await upload.catch((e) => e);
  assert.ok(r instanceof Response, `no response: ${r}`);
  assert.equal(r.status, 503);
  assert.deepEqual(await r.json(), { errors: ["server is shutting down"] });
  await srv.shutdown();
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(events.sort(), ["abandoned: BadResource", "core closed"]);
  await body.cancel().catch(() => {});
});

Deno.test("drain: hurry() ends the grace period at once; drain and shutdown are idempotent", async () => {
  const events: string[] = [];
  const srv = bindListener("127.0.0.1:0").attach(fakeCore(events), app(events));
  const upload = fetch(`${srv.url}/v1/upload`, { method: "POST", body: trickle(100, 50) });
  await new Promise((r) => setTimeout(r, 150));
  const first = srv.drain(60_000);
  assert.equal(srv.drain(), first);
  srv.hurry();
  assert.equal(await first, 1);
  assert.equal((await upload).status, 503);
  await Promise.all([srv.shutdown(), srv.shutdown()]);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(events.sort(), ["abandoned: BadResource", "core closed"]);
});
