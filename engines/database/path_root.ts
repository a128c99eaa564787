/**
 * `reset/:name` (drop the connection's pool; the next use reconnects from the stored config) and
 * `rotate-root/:name` (give the configured root user a new password that only SecretHub knows).
 *
 * Rotation stores the new password as `pending_password` before the ALTER ROLE runs and promotes
 * it after, so a crash in between never loses the working password: the next reset or rotation
 * keeps whichever of the two still connects.
 */
import { BadRequest, type PathSpec } from "../sdk.ts";
import type { DatabaseBackend } from "./backend.ts";
import { generatePassword } from "./credentials.ts";
import {
  DEFAULT_ROOT_ROTATION,
  hasLiteralPassword,
  runInTransaction,
  verifyConnection,
} from "./postgres.ts";
import { checkName } from "./schemas.ts";
import type { ConfigRecord } from "./store.ts";

async function requireConfig(b: DatabaseBackend, name: string): Promise<ConfigRecord> {
  const cfg = await b.store.config(name);
  if (!cfg) throw new BadRequest(`unknown database "${name}"`);
  return cfg;
}

/** Settles an interrupted rotation: keeps the stored password if it connects, else the pending. */
async function settlePending(
  b: DatabaseBackend,
  name: string,
  cfg: ConfigRecord,
): Promise<ConfigRecord> {
  if (!cfg.pending_password) return cfg;
  const { pending_password: pending, ...settled } = cfg;
  try {
    await verifyConnection(settled);
  } catch (e) {
    try {
      await verifyConnection(settled, pending);
    } catch {
      throw e;
    }
    settled.password = pending;
  }
  await b.store.putConfig(name, settled);
  await b.pools.close(name);
  return settled;
}

export function pathRoot(b: DatabaseBackend): PathSpec[] {
  return [
    {
      pattern: "reset/:name",
      synopsis: "Close a connection's pool; it reconnects from the stored configuration",
      operations: {
        async update(req) {
          const name = checkName("connection", req.params.name!);
          await b.lock.run(async () => {
            await settlePending(b, name, await requireConfig(b, name));
            await b.pools.close(name);
          });
        },
      },
    },
    {
      pattern: "rotate-root/:name",
      synopsis: "Rotate the password of a connection's root user",
      operations: {
        async update(req) {
          const name = checkName("connection", req.params.name!);
          await b.lock.run(async () => {
            let cfg = await requireConfig(b, name);
            if (!cfg.username) {
              throw new BadRequest(
                "unable to rotate root credentials: no username in configuration",
              );
            }
            if (!cfg.password) {
              throw new BadRequest(
                "unable to rotate root credentials: no password in configuration",
              );
            }
            if (hasLiteralPassword(cfg.connection_url)) {
              throw new BadRequest(
                "unable to rotate root credentials: connection_url holds a literal password; use {{password}}",
              );
            }
            cfg = await settlePending(b, name, cfg);
            const next = generatePassword();
            await b.store.putConfig(name, { ...cfg, pending_password: next });
            try {
              await runInTransaction(
                b.pools.get(name, cfg),
                cfg.root_rotation_statements.length
                  ? cfg.root_rotation_statements
                  : DEFAULT_ROOT_ROTATION,
                { name: cfg.username, username: cfg.username, password: next },
                [next, cfg.password],
              );
            } catch (e) {
              await b.store.putConfig(name, cfg);
              throw e;
            }
            await b.store.putConfig(name, { ...cfg, password: next });
            await b.pools.close(name);
          });
        },
      },
    },
  ];
}
