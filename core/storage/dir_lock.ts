/**
 * One server per storage directory: an exclusive advisory lock (flock) on `secrethub.lock` in
 * it, held for the life of the process (lib/dir_lock.ts: the kernel drops it however the process
 * ends, so a stale lock file never blocks a restart).
 */
import { DirLockError, lockDir } from "../../lib/dir_lock.ts";
import { StartupError } from "../startup.ts";

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
  try {
    return await lockDir(dir, {
      file: LOCK_FILE,
      key: configKey,
      holder: "another process",
      inUse: () => `storage ${dir} is in use by another process`,
    });
  } catch (e) {
    if (e instanceof DirLockError) throw new StartupError(e.message);
    throw e;
  }
}
