/**
 * One process per directory: an exclusive advisory lock (flock) on a lock file in it, held for
 * the life of the process. The kernel drops it however the process ends (exit, crash, kill -9),
 * so a stale lock file never blocks a restart; the file itself is kept (removing it would let two
 * processes lock two different files of the same name). Core's storage lock and the agent's
 * state_dir lock both use it, each naming its own key.
 */
import { fsProblem } from "./fs_problem.ts";

/** The directory cannot be locked: in use by another process, or unusable. One line. */
export class DirLockError extends Error {
  override name = "DirLockError";
}

export interface DirLock {
  readonly dir: string;
  readonly file: string;
  release(): void;
}

export interface DirLockOptions {
  /** Lock file name inside the directory. */
  file: string;
  /** Config key or flag that named the directory, for the message. */
  key: string;
  /** Who else would hold it, for the message ("another agent"). */
  holder: string;
  /** The message when another process holds the lock, if the caller words it its own way. */
  inUse?: () => string;
}

/**
 * Creates the directory (0700) if it is missing, then takes the lock without waiting. Throws a
 * DirLockError naming the key, the directory and the lock file.
 */
export async function lockDir(dir: string, o: DirLockOptions): Promise<DirLock> {
  const path = `${dir}/${o.file}`;
  let file: Deno.FsFile;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  } catch (e) {
    throw new DirLockError(`${o.key}: ${dir}: ${fsProblem(e)}`);
  }
  let locked: boolean;
  try {
    locked = await file.tryLock(true);
  } catch (e) {
    file.close();
    throw new DirLockError(`${o.key}: ${dir}: cannot lock ${path}: ${fsProblem(e)}`);
  }
  if (!locked) {
    const pid = (await Deno.readTextFile(path).catch(() => "")).trim();
    file.close();
    if (o.inUse) throw new DirLockError(o.inUse());
    throw new DirLockError(
      `${o.key}: ${dir} is in use by ${o.holder}` +
        ` (${path} is locked${/^\d+$/.test(pid) ? ` by pid ${pid}` : ""})`,
    );
  }
  // For whoever looks: which process holds it. The lock, not this text, is what counts.
  try {
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch { /* informational only */ }
  let held = true;
  return {
    dir,
    file: path,
    release() {
      if (!held) return;
      held = false;
      try {
        file.unlockSync();
      } catch { /* closing unlocks too */ }
      file.close();
    },
  };
}
