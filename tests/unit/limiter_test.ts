import assert from "node:assert/strict";
import { SlidingLoginLimiter } from "../../core/auth/limiter.ts";

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

const SRC = "10.0.0.1";

Deno.test("limiter: the identity's N+1th attempt is refused with a Retry-After", () => {
  const c = clock();
  const l = new SlidingLoginLimiter({
    perIdentity: { max: 3, windowMs: 60_000 },
    lockoutMs: 0,
    now: c.now,
  });
  for (let i = 0; i < 3; i++) {
    assert.equal(l.check(SRC, "u:alice").allowed, true, `attempt ${i + 1}`);
    l.fail(SRC, "u:alice");
    c.t += 1000;
  }
  const d = l.check(SRC, "u:alice");
  assert.equal(d.allowed, false);
  // The oldest failure (3 s ago) leaves the 60 s window in 57 s.
  assert.equal(d.retryAfter, 57);
  assert.equal(l.check(SRC, "u:bob").allowed, true);
});

Deno.test("limiter: failures expire when they slide out of the window", () => {
  const c = clock();
  const l = new SlidingLoginLimiter({
    perIdentity: { max: 2, windowMs: 10_000 },
    lockoutMs: 0,
    now: c.now,
  });
  l.fail(SRC, "id");
  c.t += 5000;
  l.fail(SRC, "id");
  assert.equal(l.check(SRC, "id").allowed, false);
  c.t += 5000; // the first failure is now exactly windowMs old
  assert.equal(l.check(SRC, "id").allowed, true);
  l.fail(SRC, "id");
  const d = l.check(SRC, "id");
  assert.equal(d.allowed, false);
  assert.equal(d.retryAfter, 5);
});

Deno.test("limiter: reaching the identity limit locks it out for lockoutMs", () => {
  const c = clock();
  const l = new SlidingLoginLimiter({ now: c.now }); // defaults: 5 per 5 min, 5 min lockout
  for (let i = 0; i < 5; i++) {
    assert.equal(l.check(SRC, "u:carol").allowed, true);
    l.fail(SRC, "u:carol");
  }
  const d = l.check("10.9.9.9", "u:carol"); // another address does not help
  assert.equal(d.allowed, false);
  assert.equal(d.retryAfter, 300);
  c.t += 299_000;
  assert.equal(l.check(SRC, "u:carol").retryAfter, 1);
  c.t += 1000;
  assert.equal(l.check(SRC, "u:carol").allowed, true);
  // After the lockout the count starts again from zero.
  l.fail(SRC, "u:carol");
  assert.equal(l.check(SRC, "u:carol").allowed, true);
});

Deno.test("limiter: succeed() clears the identity's failures but not the source's", () => {
  const c = clock();
  const l = new SlidingLoginLimiter({
    perSource: { max: 4, windowMs: 60_000 },
    perIdentity: { max: 3, windowMs: 60_000 },
    now: c.now,
  });
  l.fail(SRC, "u:dave");
  l.fail(SRC, "u:dave");
  l.succeed(SRC, "u:dave");
  l.fail(SRC, "u:dave");
  l.fail(SRC, "u:dave");
  assert.equal(l.check("10.1.1.1", "u:dave").allowed, true, "identity count was reset");
  assert.equal(l.check(SRC, "u:other").allowed, false, "source still has 4 failures");
});

Deno.test("limiter: the per-source limit spans identities", () => {
  const c = clock();
  const l = new SlidingLoginLimiter({ now: c.now }); // 20 per minute per source
  for (let i = 0; i < 20; i++) {
    assert.equal(l.check(SRC, `u:user${i}`).allowed, true);
    l.fail(SRC, `u:user${i}`);
  }
  const d = l.check(SRC, "u:fresh");
  assert.equal(d.allowed, false);
  assert.equal(d.retryAfter, 60);
  assert.equal(l.check("10.0.0.2", "u:fresh").allowed, true);
  c.t += 60_000;
  assert.equal(l.check(SRC, "u:fresh").allowed, true);
});

Deno.test("limiter: IPv6 sources in the same /64 share a budget", () => {
  const l = new SlidingLoginLimiter({ perSource: { max: 2, windowMs: 60_000 }, now: () => 0 });
  l.fail("2001:db8:1:2::1", "a");
  l.fail("2001:db8:1:2::ffff", "b");
  assert.equal(l.check("2001:db8:1:2:abcd::9", "c").allowed, false);
  assert.equal(l.check("2001:db8:1:3::1", "c").allowed, true);
});

Deno.test("limiter: memory stays bounded by evicting the least recently failed keys", () => {
  const l = new SlidingLoginLimiter({
    perIdentity: { max: 1, windowMs: 60_000 },
    maxKeys: 100,
    now: () => 0,
  });
  l.fail("s", "first");
  for (let i = 0; i < 500; i++) l.fail(`10.0.${i >> 8}.${i & 255}`, `id${i}`);
  assert.ok(l.size <= 200, `size ${l.size}`);
  assert.equal(l.check("x", "first").allowed, true, "oldest identity was evicted");
  assert.equal(l.check("x", "id499").allowed, false);
});
