import assert from "node:assert/strict";
import { Deadlines } from "../../core/http/deadlines.ts";

Deno.test("a deadline fires no sooner than its time and at most two sweeps late", async () => {
  const d = new Deadlines(300);
  // Start the sweep first, then wait into its period: the clock the deadlines read is then stale.
  await d.run(Promise.resolve(0));
  await new Promise((r) => setTimeout(r, 240));
  const t0 = performance.now();
  let abandoned = false;
  // The sweep's timer does not keep a process alive (a server has its listener for that).
  const keepAlive = setTimeout(() => {}, 5000);
  const err = await d.run(new Promise<never>(() => {}), () => abandoned = true).catch((e) => e);
  const took = performance.now() - t0;
  clearTimeout(keepAlive);
  assert.equal(err.message, "request timed out");
  assert.equal(abandoned, true);
  assert.ok(took >= 300, `fired after ${took} ms`);
  assert.ok(took < 300 + 2 * 250 + 100, `fired after ${took} ms`);
});

Deno.test("a settled request is not timed out", async () => {
  const d = new Deadlines(50);
  let abandoned = false;
  const v = await d.run(new Promise<number>((r) => setTimeout(() => r(7), 10)), () => {
    abandoned = true;
  });
  assert.equal(v, 7);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(abandoned, false);
});
