import assert from "node:assert/strict";
import { credsTtl } from "./path_creds.ts";

const H = 3600;

/** [role default_ttl, role max_ttl, mount default, mount max, lease TTL] (seconds) */
const CASES: [number, number, number, number, number][] = [
  [0, 0, 768 * H, 768 * H, 768 * H],
  [0, 0, 30, 60, 30],
  [H, 0, 30, 60, 60],
  [H, 20, 30, 60, 20],
  [H, 24 * H, 768 * H, 768 * H, H],
  [0, 600, 768 * H, 768 * H, 600],
  [0, 24 * H, 30, 60, 30],
];

Deno.test("credsTtl() is the role's default or the mount's, capped by both maxima", () => {
  for (const [defaultTtl, maxTtl, mountDefault, mountMax, want] of CASES) {
    assert.equal(
      credsTtl(
        { default_ttl: defaultTtl, max_ttl: maxTtl },
        { defaultTtl: mountDefault, maxTtl: mountMax },
      ),
      want,
      JSON.stringify([defaultTtl, maxTtl, mountDefault, mountMax]),
    );
  }
});
