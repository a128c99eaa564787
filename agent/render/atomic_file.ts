/**
 * Crash-safe file replacement for rendered secrets, certificates and cache entries.
 *
 * A reader (or a process restarted after a crash) must only ever see the old complete file or the
 * new complete file, and the secret must never sit in a file with a wider mode than asked for, not
 * even for an instant. So: a temp file with an unpredictable name in the destination's directory
 * (rename is only atomic within one filesystem), created exclusively with the final mode and owner
 * before any byte is written, fsynced, renamed over the destination, then the directory fsynced so
 * the rename itself survives a power cut.
 *
 * The destination's directory may be writable by someone else (an app's config directory), who
 * can replace the temp file's name with a symlink at any moment. A chmod or chown by path would
 * then follow it and hand them any file on the system, so once the temp file is created, its mode
 * and owner are set, and it is written and synced, only through the open descriptor. Deno's
 * `FsFile` offers no fchmod/fchown and no raw descriptor, hence `node:fs` here (it costs the
 * process a few MB of memory, the price of not following a symlink as root).
 */
import { constants, promises as fsp } from "node:fs";
import { basename, dirname, join } from "../../lib/paths.ts";
import { randomBase62 } from "../../lib/web_crypto.ts";

export interface AtomicWriteOptions {
  /** Permission bits of the destination, e.g. 0o600. */
  mode: number;
  uid?: number;
  gid?: number;
}

export interface AtomicWriteResult {
  /** False when the destination already held these exact bytes with this mode and owner. */
  changed: boolean;
}

const TEMP_MARKER = ".secrethub-tmp-";
const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

/** The recognisable name a crash may leave behind: `.<basename>.secrethub-tmp-<random>`. */
export function tempNameFor(destBasename: string): string {
  return `.${destBasename}${TEMP_MARKER}${randomBase62(16)}`;
}

/** Writes `content` to `dest` atomically; a no-op (mtime untouched) when nothing would change. */
export async function writeFileAtomic(
  dest: string,
  content: string | Uint8Array,
  opts: AtomicWriteOptions,
): Promise<AtomicWriteResult> {
  if (!Number.isInteger(opts.mode) || opts.mode < 0 || opts.mode > 0o7777) {
    throw new RangeError(`Invalid file mode: ${opts.mode}`);
  }
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  if (await sameAsExisting(dest, bytes, opts)) return { changed: false };

  const dir = dirname(dest);
  const tmp = join(dir, tempNameFor(basename(dest)));
  let fh: fsp.FileHandle;
  try {
    // O_EXCL|O_NOFOLLOW: a name someone placed first, symlink or not, is never opened.
    fh = await fsp.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, opts.mode);
  } catch (e) {
    throw denoError(e);
  }
  let renamed = false;
  try {
    // Owner first: a chown by a non-root owner clears setuid/setgid bits the chmod then sets.
    if (opts.uid !== undefined || opts.gid !== undefined) {
      await fh.chown(opts.uid ?? -1, opts.gid ?? -1);
    }
    // The open mode was filtered by the umask (it can only narrow); this makes it exact.
    await fh.chmod(opts.mode);
    let off = 0;
    while (off < bytes.length) off += (await fh.write(bytes.subarray(off))).bytesWritten;
    await fh.sync();
    const mine = await fh.stat();
    // The rename moves whatever the name points at now: only our own file may become `dest`.
    await expectOurs(tmp, mine, dest);
    await Deno.rename(tmp, dest).catch((e) => {
      if (e instanceof Deno.errors.NotFound) throw replaced(dest);
      throw e;
    });
    renamed = true;
    // Someone with write access to the directory could still have swapped the name between the
    // check and the rename; they could replace `dest` anyway, but the caller must not believe
    // it holds what was written.
    await expectOurs(dest, mine, dest);
  } catch (e) {
    if (!renamed) await Deno.remove(tmp).catch(() => {});
    throw denoError(e);
  } finally {
    await fh.close().catch(() => {});
  }
  await syncDir(dir);
  return { changed: true };
}

async function expectOurs(path: string, mine: { dev: number; ino: number }, dest: string) {
  const st = await Deno.lstat(path).catch((e) => {
    // Moved away (and nothing put in its place yet) is replaced all the same.
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  });
  if (!st || !st.isFile || st.dev !== mine.dev || st.ino !== mine.ino) throw replaced(dest);
}

function replaced(dest: string): Error {
  return new Error(
    `Cannot write "${dest}": its temporary file was replaced by another process during the write`,
  );
}

async function sameAsExisting(
  dest: string,
  bytes: Uint8Array,
  opts: AtomicWriteOptions,
): Promise<boolean> {
  let fh: fsp.FileHandle;
  try {
    // A symlink at the destination is replaced, never followed and compared (O_NOFOLLOW), and a
    // FIFO put there cannot block the open (O_NONBLOCK).
    fh = await fsp.open(dest, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === "ENOENT" || code === "ELOOP") return false;
    throw denoError(e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size !== bytes.length) return false;
    if ((st.mode & 0o7777) !== opts.mode) return false;
    if (opts.uid !== undefined && st.uid !== opts.uid) return false;
    if (opts.gid !== undefined && st.gid !== opts.gid) return false;
    const old = new Uint8Array(bytes.length + 1);
    let off = 0;
    for (;;) {
      const { bytesRead } = await fh.read(old, off, old.length - off, null);
      if (bytesRead === 0) break;
      off += bytesRead;
      if (off > bytes.length) return false;
    }
    if (off !== bytes.length) return false;
    for (let i = 0; i < bytes.length; i++) if (old[i] !== bytes[i]) return false;
    return true;
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * node:fs errors carry a `code`; callers here and `lib/fs_problem.ts` test Deno's error classes,
 * so the common ones are mapped back.
 */
function denoError(e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !(e instanceof Error)) return e;
  const Cls = ({
    ENOENT: Deno.errors.NotFound,
    EACCES: Deno.errors.PermissionDenied,
    EPERM: Deno.errors.PermissionDenied,
    EEXIST: Deno.errors.AlreadyExists,
    EISDIR: Deno.errors.IsADirectory,
    ENOTDIR: Deno.errors.NotADirectory,
  } as Record<string, new (msg: string, o: ErrorOptions) => Error>)[code];
  return Cls ? new Cls(e.message, { cause: e }) : e;
}

/** fsync of the directory makes the rename durable; opening a directory read-only works on Linux. */
async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  const d = await Deno.open(dir, { read: true });
  try {
    await d.sync();
  } finally {
    d.close();
  }
}

/** Removes temp files a crash left next to `destBasename` in `dir`; returns how many. */
export async function cleanupStaleTemps(dir: string, destBasename: string): Promise<number> {
  const prefix = `.${destBasename}${TEMP_MARKER}`;
  let removed = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !e.name.startsWith(prefix)) continue;
    // Exactly one random suffix: never touch another file's temps (".a.b" vs ".a").
    if (!/^[0-9A-Za-z]{16}$/.test(e.name.slice(prefix.length))) continue;
    try {
      await Deno.remove(join(dir, e.name));
      removed++;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return removed;
}
