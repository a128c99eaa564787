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

Deno.test("a settled request leaves nothing behind until the next sweep", async () => {
  const d = new Deadlines(60_000);
  const gates: (() => void)[] = [];
  const runs = Array.from(
    { length: 5 },
    (_, i) => d.run(new Promise<number>((r) => gates.push(() => r(i))), () => {}),
  );
  assert.equal(d.size, 5);
  // Settle the middle, the first and the last: the list must stay linked around the gaps.
  for (const i of [2, 0, 4]) gates[i]!();
  assert.deepEqual(await Promise.all([runs[2], runs[0], runs[4]]), [2, 0, 4]);
  assert.equal(d.size, 2);
  gates[1]!();
  gates[3]!();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4]);
  assert.equal(d.size, 0);
  // A rejection settles (and unlinks) too.
  const failed = d.run(Promise.reject(new Error("boom"))).catch((e) => e.message);
  assert.equal(await failed, "boom");
  assert.equal(d.size, 0);
});

Deno.test("of several requests only those past their deadline time out", async () => {
  const d = new Deadlines(100);
  const keepAlive = setTimeout(() => {}, 5000);
  const slow = d.run(new Promise<never>(() => {})).catch((e) => e.message);
  // Past the first sweep (at 100 ms), which moves the clock the deadlines read.
  await new Promise((r) => setTimeout(r, 130));
  let finish!: (v: string) => void;
  const later = d.run(new Promise<string>((r) => finish = r));
  assert.equal(await slow, "request timed out");
  finish("ok");
  assert.equal(await later, "ok");
  assert.equal(d.size, 0);
  clearTimeout(keepAlive);
});

Deno.test("a deadline from the request's start: several steps share it, and it can reject with its own error", async () => {
  const d = new Deadlines(300);
  const keepAlive = setTimeout(() => {}, 5000);
  const start = performance.now();
  // A first step that finishes in time (e.g. reading the body)...
  assert.equal(
    await d.run(new Promise((r) => setTimeout(() => r("body"), 150)), undefined, start),
    "body",
  );
  // ...leaves the second step only what is left of the 300 ms.
  const err = await d.run(new Promise<never>(() => {}), undefined, start).catch((e) => e);
  const took = performance.now() - start;
  assert.equal(err.status, 503);
  assert.ok(took >= 300 && took < 300 + 250 + 100, `fired ${took} ms after the start`);
  // Its own error instead of the 503.
  let abandoned = false;
  const err2 = await d.run(
    new Promise<never>(() => {}),
    () => abandoned = true,
    performance.now(),
    () => Object.assign(new Error("too slow"), { status: 408 }),
  ).catch((e) => e);
  assert.equal(err2.message, "too slow");
  assert.equal(err2.status, 408);
  assert.equal(abandoned, true);
  assert.equal(d.size, 0);
  clearTimeout(keepAlive);
});

Deno.test("a deadline from an earlier start is kept in order: it fires before later ones", async () => {
  const d = new Deadlines(400);
  const keepAlive = setTimeout(() => {}, 5000);
  const fired: string[] = [];
  const late = d.run(new Promise<never>(() => {})).catch(() => fired.push("late"));
  await new Promise((r) => setTimeout(r, 50));
  // Started 300 ms ago: due about 300 ms before `late`, though it was added after it.
  const early = d.run(new Promise<never>(() => {}), undefined, performance.now() - 300)
    .catch(() => fired.push("early"));
  const t0 = performance.now();
  await early;
  assert.ok(performance.now() - t0 < 400, `early fired after ${performance.now() - t0} ms`);
  assert.deepEqual(fired, ["early"]);
  await late;
  assert.deepEqual(fired, ["early", "late"]);
  assert.equal(d.size, 0);
  clearTimeout(keepAlive);
});
