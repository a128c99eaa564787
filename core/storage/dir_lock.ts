/**
 * One server per storage directory: an exclusive advisory lock (flock) on `secrethub.lock` in
 * it, held for the life of the process. The kernel drops it when the process ends however it
 * ends (exit, crash, kill -9), so a stale lock file never blocks a restart; the file itself is
 * kept (removing it would let two processes lock two different files of the same name).
 */
import { fsProblem, StartupError } from "../startup.ts";

export const LOCK_FILE = "secrethub.lock";

export interface StorageLock {
  readonly dir: string;
  release(): void;
}

/**
 * Creates the directory (0700) if it is missing, then takes the lock without waiting. Throws a
 * StartupError naming the directory when another process holds it or the directory is unusable.
 */
export async function lockStorageDir(
  dir: string,
  configKey = "storage.path",
): Promise<StorageLock> {
  let file: Deno.FsFile;
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    file = await Deno.open(`${dir}/${LOCK_FILE}`, {
      read: true,
      write: true,
      create: true,
      mode: 0o600,
    });
  } catch (e) {
    throw new StartupError(`${configKey}: ${dir}: ${fsProblem(e)}`);
  }
  let locked: boolean;
  try {
    locked = await file.tryLock(true);
  } catch (e) {
    file.close();
    throw new StartupError(`${configKey}: ${dir}: cannot lock ${LOCK_FILE}: ${fsProblem(e)}`);
  }
  if (!locked) {
    file.close();
    throw new StartupError(`storage ${dir} is in use by another process`);
  }
  // For whoever looks: which process holds it. The lock, not this text, is what counts.
  try {
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch { /* informational only */ }
  let held = true;
  return {
    dir,
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
