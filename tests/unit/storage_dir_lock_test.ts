import assert from "node:assert/strict";
import { LOCK_FILE, lockStorageDir } from "../../core/storage/dir_lock.ts";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { StartupError } from "../../core/startup.ts";

const mode = (p: string) => Deno.statSync(p).mode! & 0o777;

Deno.test("lockStorageDir() creates the directory 0700, and a second lock on it is refused until release", async () => {
  const tmp = await Deno.makeTempDir();
  const dir = `${tmp}/a/b`;
  try {
    const lock = await lockStorageDir(dir);
    assert.equal(mode(`${tmp}/a`), 0o700);
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(`${dir}/${LOCK_FILE}`), 0o600);
    assert.equal(Deno.readTextFileSync(`${dir}/${LOCK_FILE}`), `${Deno.pid}\n`);
    // flock locks belong to an open file, so a second open in this same process is refused too.
    await assert.rejects(lockStorageDir(dir), (e: Error) => {
      assert.ok(e instanceof StartupError);
      assert.equal(e.message, `storage ${dir} is in use by another process`);
      return true;
    });
    lock.release();
    lock.release(); // twice is harmless
    (await lockStorageDir(dir)).release();
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("lockStorageDir() names the config key when the path cannot be a directory", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${tmp}/file`, "");
    await assert.rejects(
      lockStorageDir(`${tmp}/file`),
      new RegExp(`^StartupError: storage\\.path: ${tmp}/file: `),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("LibsqlStorage.open() creates the database 0600 (and so its WAL and SHM); an existing file keeps its mode", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const s = await LibsqlStorage.open(`${dir}/s.db`);
    await s.put("k", new Uint8Array([1, 2, 3]));
    for (const f of ["s.db", "s.db-wal", "s.db-shm"]) assert.equal(mode(`${dir}/${f}`), 0o600, f);
    await s.close();

    Deno.writeFileSync(`${dir}/old.db`, new Uint8Array(), { mode: 0o640 });
    Deno.chmodSync(`${dir}/old.db`, 0o640);
    const old = await LibsqlStorage.open(`${dir}/old.db`);
    await old.close();
    assert.equal(mode(`${dir}/old.db`), 0o640);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
