import assert from "node:assert/strict";
import { Hono } from "hono";
import { bindListener } from "../../core/server.ts";
import type { Core } from "../../core/core.ts";
import type { AppEnv } from "../../core/http/app.ts";
import { StartupError } from "../../core/startup.ts";

const fakeCore = { close: () => Promise.resolve() } as unknown as Core;

Deno.test("bindListener() holds requests that arrive before attach, then serves them", async () => {
  const bound = bindListener("127.0.0.1:0");
  assert.match(bound.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const early = fetch(`${bound.url}/v1/x`).then((r) => r.text());
  await new Promise((r) => setTimeout(r, 100));
  const app = new Hono<AppEnv>();
  app.get("/v1/x", (c) => c.text("served"));
  const srv = bound.attach(fakeCore, app);
  assert.equal(await early, "served");
  assert.equal(await (await fetch(`${srv.url}/v1/x`)).text(), "served");
  await srv.shutdown();
});

Deno.test("bindListener() closed before attach answers waiting requests 503", async () => {
  const bound = bindListener("127.0.0.1:0");
  const early = fetch(`${bound.url}/v1/x`);
  await new Promise((r) => setTimeout(r, 100));
  await bound.close();
  const r = await early;
  assert.equal(r.status, 503);
  assert.deepEqual(await r.json(), { errors: ["server is not running"] });
});

Deno.test("bindListener() names the label and address when it cannot bind", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  try {
    assert.throws(
      () => bindListener(`127.0.0.1:${port}`, undefined, "listener.address"),
      (e: Error) =>
        e instanceof StartupError &&
        e.message === `listener.address 127.0.0.1:${port}: address already in use`,
    );
    assert.throws(
      () => bindListener("nope", undefined, "-dev-listen-address"),
      /^StartupError: -dev-listen-address: invalid listen address "nope"/,
    );
  } finally {
    taken.close();
  }
});
