/**
 * Interrupted root rotations. rotate-root stores the new password as `pending_password` before
 * the ALTER ROLE runs, and keeps it there when the outcome is unknown (the connection broke after
 * the statements were sent), so PostgreSQL may hold either password. Every use of the connection
 * settles that first: the one PostgreSQL accepts becomes the stored password.
 */
import type { DatabaseBackend } from "./backend.ts";
import { verifyConnection } from "./postgres.ts";
import type { ConfigRecord } from "./store.ts";

/**
 * `cfg` without its pending password, keeping the password that connects: the stored one if it
 * does, else the pending one; neither connecting throws the stored password's error. Stores
 * nothing; a config with no pending password is only verified.
 */
export async function settledConfig(cfg: ConfigRecord): Promise<ConfigRecord> {
  const { pending_password: pending, ...settled } = cfg;
  try {
    await verifyConnection(settled);
  } catch (e) {
    if (!pending) throw e;
    try {
      await verifyConnection(settled, pending);
    } catch {
      throw e;
    }
    settled.password = pending;
  }
  return settled;
}

/**
 * Stores {@link settledConfig}, so both passwords stay kept when neither connects. The caller
 * holds `b.lock`.
 */
export async function settlePending(
  b: DatabaseBackend,
  name: string,
  cfg: ConfigRecord,
): Promise<ConfigRecord> {
  if (!cfg.pending_password) return cfg;
  const settled = await settledConfig(cfg);
  await b.store.putConfig(name, settled);
  await b.pools.close(name);
  return settled;
}

/**
 * The named connection's config ready to connect with (null when none is stored): settled
 * first if a rotation left it undecided. A rotation still running finishes first (the lock).
 */
export async function usableConfig(
  b: DatabaseBackend,
  name: string,
): Promise<ConfigRecord | null> {
  const cfg = await b.store.config(name);
  if (!cfg?.pending_password) return cfg;
  return await b.lock.run(async () => {
    const now = await b.store.config(name);
    return now ? await settlePending(b, name, now) : null;
  });
}
