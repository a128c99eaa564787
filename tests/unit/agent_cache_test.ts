import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CacheEntry,
  keyMaterialFromPrivateKeyPem,
  PersistentCache,
  readCacheKeyFile,
  SecretCache,
} from "../../agent/cache/mod.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const HOUR = 3_600_000;

function entry(path: string, t: number, extra: Partial<CacheEntry> = {}): CacheEntry {
  return { path, data: { data: { v: path } }, version: 1, fetchedAt: t, confirmedAt: t, ...extra };
}

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("agent_cache_", fn);
}

async function agentKeyPem(): Promise<string> {
  const alg = { name: "ECDSA", namedCurve: "P-256" };
  const kp = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]) as CryptoKeyPair;
  const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", kp.privateKey));
  const b64 = btoa(String.fromCharCode(...der)).match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("SecretCache.put() evicts the least recently used entry", () => {
  const evicted: string[] = [];
  const c = new SecretCache({ maxEntries: 2, maxStaleMs: HOUR, onEvict: (p) => evicted.push(p) });
  c.put(entry("a", 0));
  c.put(entry("b", 0));
  assert.equal(c.get("a", 1).kind, "hit"); // a is now the most recent
  assert.deepEqual(c.put(entry("c", 0)), ["b"]);
  assert.deepEqual(evicted, ["b"]);
  assert.equal(c.get("b", 1).kind, "miss");
  assert.deepEqual(c.entries().map((e) => e.path), ["a", "c"]);
  assert.equal(c.size, 2);
});

Deno.test("SecretCache.get() refuses entries unconfirmed for longer than max_stale", () => {
  const c = new SecretCache({ maxEntries: 10, maxStaleMs: 72 * HOUR });
  c.put(entry("p", 0));
  const hit = c.get("p", 72 * HOUR);
  assert.equal(hit.kind, "hit");
  assert.equal(hit.kind === "hit" && hit.ageMs, 72 * HOUR);
  assert.deepEqual(c.get("p", 72 * HOUR + 1), {
    kind: "too_stale",
    ageMs: 72 * HOUR + 1,
    maxStaleMs: 72 * HOUR,
  });
  // A confirmation from core restarts the clock; an older confirmation never moves it back.
  assert.equal(c.touch("p", 100 * HOUR), true);
  c.touch("p", 50 * HOUR);
  const again = c.get("p", 101 * HOUR);
  assert.equal(again.kind === "hit" && again.ageMs, HOUR);
  assert.equal(c.touch("unknown", 1), false);
});

Deno.test("SecretCache.get() marks entries past their TTL stale but still serves them", () => {
  const c = new SecretCache({ maxEntries: 10, maxStaleMs: 10 * HOUR });
  c.put(entry("lease", 0, { ttlMs: HOUR }));
  const fresh = c.get("lease", HOUR);
  assert.equal(fresh.kind === "hit" && fresh.stale, false);
  const stale = c.get("lease", HOUR + 1);
  assert.equal(stale.kind === "hit" && stale.stale, true);
  // A clock stepping back does not produce a negative age.
  const back = c.get("lease", -5000);
  assert.equal(back.kind === "hit" && back.ageMs, 0);
});

Deno.test("SecretCache.invalidate() drops the entry", () => {
  const c = new SecretCache({ maxEntries: 10, maxStaleMs: HOUR });
  c.put(entry("p", 0, { version: 7 }));
  assert.equal(c.version("p"), 7);
  assert.equal(c.invalidate("p"), true);
  assert.equal(c.get("p", 0).kind, "miss");
  assert.equal(c.invalidate("p"), false);
  assert.throws(() => new SecretCache({ maxEntries: 0, maxStaleMs: 1 }), RangeError);
});

Deno.test("PersistentCache round-trips entries and hides paths and values on disk", async () => {
  await withDir(async (state) => {
    const dir = join(state, "cache");
    const ikm = keyMaterialFromPrivateKeyPem(await agentKeyPem());
    const pc = await PersistentCache.open(dir, ikm);
    const SECRET = "hunter2-very-secret-value";
    const PATH = "secret/data/web/db-credentials";
    const e1: CacheEntry = {
      path: PATH,
      data: { data: { password: SECRET }, metadata: { version: 3 } },
      version: 3,
      fetchedAt: 1000,
      confirmedAt: 2000,
      ttlMs: 60_000,
    };
    await pc.save(e1);
    await pc.save(entry("secret/data/other", 5));
    assert.equal(Deno.statSync(dir).mode! & 0o777, 0o700);
    for (const f of Deno.readDirSync(dir)) {
      assert.match(f.name, /^[0-9a-f]{64}$/);
      assert.equal(Deno.statSync(join(dir, f.name)).mode! & 0o777, 0o600);
      const bytes = Deno.readFileSync(join(dir, f.name));
      for (const needle of [SECRET, PATH, "hunter2", "db-credentials", btoa(SECRET)]) {
        assert.equal(indexOf(bytes, new TextEncoder().encode(needle)), -1, `found ${needle}`);
      }
    }
    const grep = await new Deno.Command("grep", {
      args: ["-r", "-a", "-l", "-e", SECRET, "-e", PATH, dir],
    })
      .output();
    assert.equal(grep.code, 1, "grep found the secret or its path in the cache dir");

    // A fresh instance (agent restart) with the same key material reads everything back.
    const again = await PersistentCache.open(dir, ikm);
    const { entries, skipped } = await again.loadAll();
    assert.deepEqual(skipped, []);
    const byPath = Object.fromEntries(entries.map((e) => [e.path, e]));
    assert.deepEqual(byPath[PATH], e1);
    assert.ok(byPath["secret/data/other"]);

    await again.remove(PATH);
    await again.remove(PATH); // already gone is fine
    assert.deepEqual((await again.loadAll()).entries.map((e) => e.path), ["secret/data/other"]);
  });
});

Deno.test("PersistentCache.loadAll() skips foreign-key, moved and corrupt files", async () => {
  await withDir(async (dir) => {
    const mine = await PersistentCache.open(dir, keyMaterialFromPrivateKeyPem(await agentKeyPem()));
    const theirs = await PersistentCache.open(
      join(dir, "x"),
      keyMaterialFromPrivateKeyPem(await agentKeyPem()),
    );
    await theirs.save(entry("foreign", 1));
    Deno.renameSync(
      join(dir, "x", await PersistentCache.fileNameFor("foreign")),
      join(dir, await PersistentCache.fileNameFor("foreign")),
    );
    await mine.save(entry("a", 1));
    await mine.save(entry("b", 1));
    // Swap b's ciphertext onto c's name: the AAD (file name) no longer matches.
    Deno.copyFileSync(
      join(dir, await PersistentCache.fileNameFor("b")),
      join(dir, await PersistentCache.fileNameFor("c")),
    );
    // Flip one ciphertext byte of a.
    const fa = join(dir, await PersistentCache.fileNameFor("a"));
    const bytes = Deno.readFileSync(fa);
    bytes[bytes.length - 1]! ^= 1;
    Deno.writeFileSync(fa, bytes);
    Deno.writeFileSync(
      join(dir, await PersistentCache.fileNameFor("d")),
      new Uint8Array([1, 2, 3]),
    );
    Deno.writeTextFileSync(join(dir, "README"), "hello");
    Deno.writeTextFileSync(
      join(dir, `.${await PersistentCache.fileNameFor("e")}.secrethub-tmp-AAAAAAAAAAAAAAAA`),
      "x",
    );

    const { entries, skipped } = await mine.loadAll();
    assert.deepEqual(entries.map((e) => e.path), ["b"]);
    const reasons = Object.fromEntries(skipped.map((s) => [s.file, s.reason]));
    assert.deepEqual(reasons, {
      [await PersistentCache.fileNameFor("foreign")]: "decryption failed",
      [await PersistentCache.fileNameFor("a")]: "decryption failed",
      [await PersistentCache.fileNameFor("c")]: "decryption failed",
      [await PersistentCache.fileNameFor("d")]: "unknown format",
      README: "not a cache file",
    });
    assert.equal([...Deno.readDirSync(dir)].some((f) => f.name.includes("secrethub-tmp")), false);
  });
});

Deno.test("PersistentCache keeps max_stale measured across an agent restart", async () => {
  await withDir(async (dir) => {
    const keyFile = join(dir, "cache.key");
    Deno.writeFileSync(keyFile, crypto.getRandomValues(new Uint8Array(32)));
    const ikm = await readCacheKeyFile(keyFile);
    const before = await PersistentCache.open(join(dir, "cache"), ikm);
    await before.save(entry("fresh", 10 * HOUR));
    await before.save(entry("old", 0));

    const after = await PersistentCache.open(join(dir, "cache"), await readCacheKeyFile(keyFile));
    const mem = new SecretCache({ maxEntries: 10, maxStaleMs: 72 * HOUR });
    for (const e of (await after.loadAll()).entries) mem.put(e);
    const now = 73 * HOUR;
    assert.equal(mem.get("fresh", now).kind, "hit");
    assert.equal(mem.get("old", now).kind, "too_stale");

    Deno.writeFileSync(keyFile, new Uint8Array(16));
    await assert.rejects(readCacheKeyFile(keyFile), /at least 32 are needed/);
    assert.throws(() => keyMaterialFromPrivateKeyPem("not a key"), TypeError);
  });
});

Deno.test("PersistentCache.save() applies writes to one path in call order", async () => {
  await withDir(async (dir) => {
    const pc = await PersistentCache.open(dir, new Uint8Array(32).fill(7));
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => pc.save(entry("p", i, { version: i }))),
    );
    const { entries } = await pc.loadAll();
    assert.equal(entries[0]!.version, 9);
  });
});

Deno.test("PersistentCache.open() never chmods the directory a symlink at its path points to", async () => {
  await withDir(async (dir) => {
    const victim = join(dir, "victim");
    Deno.mkdirSync(victim);
    Deno.chmodSync(victim, 0o755);
    const cache = join(dir, "cache");
    Deno.symlinkSync(victim, cache);
    await assert.rejects(
      PersistentCache.open(cache, new Uint8Array(32).fill(1)),
      (e: unknown) =>
        e instanceof Deno.errors.PermissionDenied &&
        e.message === `Cannot use "${cache}" for the cache: it is a symlink (not followed)`,
    );
    assert.equal(Deno.statSync(victim).mode! & 0o7777, 0o755);
    // A real directory is still tightened to 0700.
    const own = join(dir, "own");
    Deno.mkdirSync(own, { mode: 0o755 });
    Deno.chmodSync(own, 0o755);
    await PersistentCache.open(own, new Uint8Array(32).fill(1));
    assert.equal(Deno.statSync(own).mode! & 0o7777, 0o700);
  });
});
