import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanupStaleTemps, writeFileAtomic } from "../../agent/render/atomic_file.ts";
import { withTempDir } from "../helpers/temp_dir.ts";
import { startSymlinkSwapper } from "../helpers/symlink_swapper.ts";

const ATOMIC_URL = new URL("../../agent/render/atomic_file.ts", import.meta.url).href;
const CONFIG = new URL("../../deno.json", import.meta.url).pathname;

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("agent_atomic_", fn);
}

function temps(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.includes(".secrethub-tmp-"));
}

Deno.test("writeFileAtomic() creates the file with exactly the requested mode", async () => {
  await withDir(async (dir) => {
    for (const mode of [0o600, 0o640, 0o400]) {
      const f = join(dir, `m${mode.toString(8)}`);
      const r = await writeFileAtomic(f, "secret", { mode });
      assert.equal(r.changed, true);
      assert.equal(Deno.statSync(f).mode! & 0o7777, mode);
      assert.equal(Deno.readTextFileSync(f), "secret");
    }
    assert.deepEqual(temps(dir), []);
  });
});

Deno.test("writeFileAtomic() leaves identical content untouched (mtime unchanged)", async () => {
  await withDir(async (dir) => {
    const f = join(dir, "out.env");
    await writeFileAtomic(f, "A=1\n", { mode: 0o600 });
    const past = new Date(Date.now() - 3_600_000);
    await Deno.utime(f, past, past);
    const ino = Deno.statSync(f).ino;
    const r = await writeFileAtomic(f, new TextEncoder().encode("A=1\n"), { mode: 0o600 });
    assert.equal(r.changed, false);
    const st = Deno.statSync(f);
    assert.equal(st.mtime!.getTime(), past.getTime());
    assert.equal(st.ino, ino);
  });
});

Deno.test("writeFileAtomic() rewrites when content or mode differ", async () => {
  await withDir(async (dir) => {
    const f = join(dir, "out");
    await writeFileAtomic(f, "one", { mode: 0o600 });
    assert.equal((await writeFileAtomic(f, "two", { mode: 0o600 })).changed, true);
    assert.equal(Deno.readTextFileSync(f), "two");
    // Same length, different bytes.
    assert.equal((await writeFileAtomic(f, "twx", { mode: 0o600 })).changed, true);
    assert.equal(Deno.readTextFileSync(f), "twx");
    // Same bytes, different mode.
    assert.equal((await writeFileAtomic(f, "twx", { mode: 0o640 })).changed, true);
    assert.equal(Deno.statSync(f).mode! & 0o7777, 0o640);
  });
});

Deno.test("writeFileAtomic() sets the owner when uid/gid are given", async () => {
  await withDir(async (dir) => {
    const f = join(dir, "owned");
    // As root a foreign owner proves chown ran; otherwise our own ids are all we may set.
    const uid = Deno.uid() === 0 ? 65534 : Deno.uid()!;
    const gid = Deno.uid() === 0 ? 65534 : Deno.gid()!;
    await writeFileAtomic(f, "x", { mode: 0o600, uid, gid });
    const st = Deno.statSync(f);
    assert.equal(st.uid, uid);
    assert.equal(st.gid, gid);
    assert.equal((await writeFileAtomic(f, "x", { mode: 0o600, uid, gid })).changed, false);
  });
});

Deno.test("writeFileAtomic() replaces a symlink instead of writing through it", async () => {
  await withDir(async (dir) => {
    const target = join(dir, "target");
    Deno.writeTextFileSync(target, "keep me");
    const f = join(dir, "link");
    Deno.symlinkSync(target, f);
    assert.equal((await writeFileAtomic(f, "keep me", { mode: 0o600 })).changed, true);
    assert.equal(Deno.lstatSync(f).isSymlink, false);
    assert.equal(Deno.readTextFileSync(target), "keep me");
  });
});

Deno.test("writeFileAtomic() removes its temp file when the write fails", async () => {
  await withDir(async (dir) => {
    // A non-empty directory at the destination makes the final rename fail.
    const f = join(dir, "isdir");
    Deno.mkdirSync(f);
    Deno.writeTextFileSync(join(f, "x"), "x");
    await assert.rejects(writeFileAtomic(f, "data", { mode: 0o600 }));
    assert.deepEqual(temps(dir), []);
    await assert.rejects(writeFileAtomic(join(dir, "bad"), "data", { mode: 0o10000 }), RangeError);
  });
});

Deno.test("cleanupStaleTemps() removes only this destination's leftovers", async () => {
  await withDir(async (dir) => {
    const mine = [
      ".app.env.secrethub-tmp-AAAAAAAAAAAAAAAA",
      ".app.env.secrethub-tmp-0123456789abcdef",
    ];
    const others = [
      ".app.env.old.secrethub-tmp-AAAAAAAAAAAAAAAA", // another destination's temp
      ".app.env.secrethub-tmp-short",
      "app.env",
    ];
    for (const n of [...mine, ...others]) Deno.writeTextFileSync(join(dir, n), "x");
    assert.equal(await cleanupStaleTemps(dir, "app.env"), 2);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      [...others].sort(),
    );
  });
});

const CHILD = `
import { writeFileAtomic } from ${JSON.stringify(ATOMIC_URL)};
const [dest, a, b] = Deno.args;
const contents = [Deno.readFileSync(a), Deno.readFileSync(b)];
let i = 0;
await writeFileAtomic(dest, contents[0], { mode: 0o600 });
await Deno.stdout.write(new TextEncoder().encode("ready\\n"));
for (;;) await writeFileAtomic(dest, contents[++i % 2], { mode: 0o600 });
`;

Deno.test("writeFileAtomic() never leaves a partial file when the writer is killed -9", async () => {
  await withDir(async (dir) => {
    const script = join(dir, "writer.ts");
    Deno.writeTextFileSync(script, CHILD);
    // Different sizes and fill bytes, so any torn write shows up as a length or byte mismatch.
    const a = new Uint8Array(3 << 20).fill(0x41);
    const b = new Uint8Array((2 << 20) + 12345).fill(0x42);
    Deno.writeFileSync(join(dir, "a.bin"), a);
    Deno.writeFileSync(join(dir, "b.bin"), b);
    const out = join(dir, "out");
    await Deno.mkdir(out);
    const dest = join(out, "secret.bin");
    let sawTemp = 0;
    const ROUNDS = 10;
    for (let round = 0; round < ROUNDS; round++) {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--config",
          CONFIG,
          "-A",
          script,
          dest,
          join(dir, "a.bin"),
          join(dir, "b.bin"),
        ],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const reader = child.stdout.getReader();
      const first = await reader.read();
      assert.equal(new TextDecoder().decode(first.value), "ready\n");
      await new Promise((r) => setTimeout(r, Math.random() * 60));
      child.kill("SIGKILL");
      const st = await child.status;
      assert.equal(st.signal, "SIGKILL", "the writer was still running when killed");
      reader.releaseLock();
      await child.stdout.cancel();

      const got = Deno.readFileSync(dest);
      const isA = got.length === a.length && got.every((x) => x === 0x41);
      const isB = got.length === b.length && got.every((x) => x === 0x42);
      assert.ok(isA || isB, `round ${round}: partial destination of ${got.length} bytes`);
      assert.equal(Deno.statSync(dest).mode! & 0o7777, 0o600);
      const left = temps(out);
      if (left.length) sawTemp++;
      assert.equal(await cleanupStaleTemps(out, "secret.bin"), left.length);
      assert.deepEqual(temps(out), []);
    }
    // Most of the loop's time is spent writing a temp file, so some kills must have hit mid-write;
    // otherwise this test would not be exercising a crash at all.
    assert.ok(sawTemp > 0, "no kill landed during a write");
  });
});

Deno.test("writeFileAtomic() never chmods, chowns or renames into place a symlink swapped in for its temp file", async () => {
  await withDir(async (dir) => {
    const { out, victim, before, stop } = await startSymlinkSwapper(dir, "out", {
      only: ".secrethub-tmp-",
    });
    try {
      // As root a foreign owner is what a hijacked chown would hand over.
      const owner = Deno.uid() === 0 ? { uid: 65534, gid: 65534 } : {};
      const dest = join(out, "app.env");
      let refused = 0;
      for (let i = 0; i < 200; i++) {
        const text = `S=${i}\n`;
        try {
          await writeFileAtomic(dest, text, { mode: 0o644, ...owner });
        } catch (e) {
          assert.match((e as Error).message, /replaced by another process/);
          refused++;
          continue;
        }
        assert.ok(!Deno.lstatSync(dest).isSymlink, `write ${i} renamed a symlink into place`);
        assert.equal(Deno.readTextFileSync(dest), text);
      }
      const after = Deno.statSync(victim);
      assert.equal(after.mode! & 0o7777, 0o600, "the victim's mode was changed");
      assert.equal(after.uid, before.uid, "the victim's owner was changed");
      assert.equal(after.gid, before.gid, "the victim's group was changed");
      assert.equal(Deno.readTextFileSync(victim), "not yours");
      // Otherwise the race was never run and this test proves nothing.
      assert.ok(refused > 0, "no temp file was swapped");
    } finally {
      await stop();
    }
  });
});
