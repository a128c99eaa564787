import assert from "node:assert/strict";
import {
  addVersion,
  DEFAULT_CONFIG,
  isLive,
  type KvConfig,
  newKeyMeta,
  scheduledDeletion,
} from "./model.ts";

const T0 = 1_700_000_000_000;

Deno.test("addVersion() prunes with Vault's arithmetic", () => {
  const meta = newKeyMeta(T0);
  meta.maxVersions = 2;
  const pruned: number[][] = [];
  for (let i = 0; i < 4; i++) pruned.push(addVersion(meta, DEFAULT_CONFIG, T0 + i).pruned);
  assert.deepEqual(pruned, [[], [], [1], [2]]);
  assert.equal(meta.oldestVersion, 3);
  assert.equal(meta.currentVersion, 4);
  assert.deepEqual(Object.keys(meta.versions), ["3", "4"]);
});

Deno.test("addVersion() uses the larger of key and mount max_versions, default 10", () => {
  const meta = newKeyMeta(T0);
  for (let i = 0; i < 11; i++) addVersion(meta, DEFAULT_CONFIG, T0);
  assert.equal(Object.keys(meta.versions).length, 10);
  assert.equal(meta.oldestVersion, 2);

  const small = newKeyMeta(T0);
  small.maxVersions = 1;
  const config: KvConfig = { ...DEFAULT_CONFIG, maxVersions: 3 };
  for (let i = 0; i < 5; i++) addVersion(small, config, T0);
  assert.deepEqual(Object.keys(small.versions), ["3", "4", "5"]);
});

Deno.test("addVersion() drops several versions after max_versions is lowered", () => {
  const meta = newKeyMeta(T0);
  for (let i = 0; i < 5; i++) addVersion(meta, DEFAULT_CONFIG, T0);
  meta.maxVersions = 2;
  assert.deepEqual(addVersion(meta, DEFAULT_CONFIG, T0).pruned, [1, 2, 3, 4]);
  assert.deepEqual(Object.keys(meta.versions), ["5", "6"]);
});

Deno.test("scheduledDeletion() takes the smaller non-zero setting and honours disable", () => {
  const meta = newKeyMeta(T0);
  assert.equal(scheduledDeletion(T0, meta, DEFAULT_CONFIG), null);
  meta.deleteVersionAfter = 60;
  assert.equal(scheduledDeletion(T0, meta, DEFAULT_CONFIG), T0 + 60_000);
  assert.equal(
    scheduledDeletion(T0, meta, { ...DEFAULT_CONFIG, deleteVersionAfter: 30 }),
    T0 + 30_000,
  );
  assert.equal(scheduledDeletion(T0, meta, { ...DEFAULT_CONFIG, deleteVersionAfter: -1 }), null);
});

Deno.test("isLive() treats a deadline equal to now as passed", () => {
  assert.equal(isLive({ createdMs: T0, deletionMs: null, destroyed: false }, T0), true);
  assert.equal(isLive({ createdMs: T0, deletionMs: T0 + 1, destroyed: false }, T0), true);
  assert.equal(isLive({ createdMs: T0, deletionMs: T0, destroyed: false }, T0), false);
  assert.equal(isLive({ createdMs: T0, deletionMs: null, destroyed: true }, T0), false);
});
