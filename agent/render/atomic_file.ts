/**
 * Crash-safe file replacement for rendered secrets, certificates and cache entries.
 *
 * A reader (or a process restarted after a crash) must only ever see the old complete file or the
 * new complete file, and the secret must never sit in a file with a wider mode than asked for, not
 * even for an instant. So: a temp file with an unpredictable name in the destination's directory
 * (rename is only atomic within one filesystem), created exclusively with the final mode and owner
 * before any byte is written, fsynced, renamed over the destination, then the directory fsynced so
 * the rename itself survives a power cut.
 */
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
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: opts.mode });
    // The open mode is filtered by the umask (it can only narrow); chmod makes it exact.
    await Deno.chmod(tmp, opts.mode);
    if (opts.uid !== undefined || opts.gid !== undefined) {
      await Deno.chown(tmp, opts.uid ?? null, opts.gid ?? null);
    }
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    await file.sync();
    file.close();
    file = undefined;
    await Deno.rename(tmp, dest);
  } catch (e) {
    try {
      file?.close();
    } catch { /* already closed */ }
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  await syncDir(dir);
  return { changed: true };
}

async function sameAsExisting(
  dest: string,
  bytes: Uint8Array,
  opts: AtomicWriteOptions,
): Promise<boolean> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(dest);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
  // A symlink at the destination is replaced, never followed and compared.
  if (!st.isFile || st.size !== bytes.length) return false;
  if (st.mode === null || (st.mode & 0o7777) !== opts.mode) return false;
  if (opts.uid !== undefined && st.uid !== opts.uid) return false;
  if (opts.gid !== undefined && st.gid !== opts.gid) return false;
  const old = await Deno.readFile(dest);
  if (old.length !== bytes.length) return false;
  for (let i = 0; i < old.length; i++) if (old[i] !== bytes[i]) return false;
  return true;
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
