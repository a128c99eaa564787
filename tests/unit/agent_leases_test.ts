import assert from "node:assert/strict";
import { LeaseRenewer } from "../../agent/leases.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function renewer(renew: (id: string, inc: number) => Promise<Record<string, unknown> | null>) {
  const refetched: string[] = [];
  const renewed: string[] = [];
  const r = new LeaseRenewer({
    now: Date.now,
    renew: (id, inc) => {
      renewed.push(id);
      return renew(id, inc);
    },
    refetch: (p) => refetched.push(p),
    log: () => {},
  });
  return { r, refetched, renewed };
}

Deno.test("leases: a renewable lease is renewed at two thirds and keeps being renewed", async () => {
  const { r, refetched, renewed } = renewer(() => Promise.resolve({ lease_duration: 0.3 }));
  r.track("db/creds/app", "lease-1", 0.3, true);
  await sleep(450);
  r.stop();
  assert.ok(renewed.length >= 2, `renewed ${renewed.length} times`);
  assert.deepEqual(refetched, []);
});

Deno.test("leases: refused renewal, a short grant or a non-renewable lease → new credentials", async () => {
  const refused = renewer(() => Promise.reject(new Error("lease not found")));
  refused.r.track("p1", "l1", 0.15, true);
  const short = renewer(() => Promise.resolve({ lease_duration: 0.01 }));
  short.r.track("p2", "l2", 0.15, true);
  const fixed = renewer(() => Promise.resolve(null));
  fixed.r.track("p3", "l3", 0.15, false);
  await sleep(200);
  assert.deepEqual(refused.refetched, ["p1"]);
  assert.deepEqual(short.refetched, ["p2"]);
  assert.deepEqual(fixed.refetched, ["p3"]);
  assert.deepEqual(fixed.renewed, []);
});

Deno.test("leases: no lease id or zero duration is not tracked; forget cancels", async () => {
  const { r, refetched, renewed } = renewer(() => Promise.resolve({ lease_duration: 1 }));
  r.track("kv", "", 0.1, true);
  r.track("kv2", "l", 0, true);
  r.track("gone", "l9", 0.1, true);
  assert.equal(r.pathOf("l9"), "gone");
  r.forget("gone");
  await sleep(150);
  assert.deepEqual([refetched, renewed], [[], []]);
});

Deno.test("leases: a lease longer than a timer can hold is not renewed at once (no renewal storm)", async () => {
  const { r, refetched, renewed } = renewer(() => Promise.resolve({ lease_duration: 40 * 86400 }));
  // 40 days: two thirds of it in ms overflows a 32-bit timer, which would fire immediately.
  r.track("db/creds/long", "l-long", 40 * 86400, true);
  await sleep(50);
  r.stop();
  assert.deepEqual([renewed, refetched], [[], []]);
});
