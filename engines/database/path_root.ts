/**
 * `reset/:name` (drop the connection's pool; the next use reconnects from the stored config) and
 * `rotate-root/:name` (give the configured root user a new password that only SecretHub knows).
 *
 * Rotation stores the new password as `pending_password` before the ALTER ROLE runs and promotes
 * it after, so neither a crash in between nor a connection lost with the COMMIT's answer loses
 * the working password: the next use of the connection keeps whichever of the two still
 * connects (settle.ts).
 */
import { BadRequest, InternalError, type PathSpec } from "../sdk.ts";
import type { DatabaseBackend } from "./backend.ts";
import { generatePassword } from "./credentials.ts";
import {
  CommitUncertain,
  configSecrets,
  DEFAULT_ROOT_ROTATION,
  hasLiteralPassword,
  runInTransaction,
} from "./postgres.ts";
import { checkName } from "./schemas.ts";
import { settlePending } from "./settle.ts";
import type { ConfigRecord } from "./store.ts";

async function requireConfig(b: DatabaseBackend, name: string): Promise<ConfigRecord> {
  const cfg = await b.store.config(name);
  if (!cfg) throw new BadRequest(`unknown database "${name}"`);
  return cfg;
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
                [next, ...configSecrets(cfg)],
              );
            } catch (e) {
              if (e instanceof CommitUncertain) {
                // PostgreSQL may hold the new password: dropping it now could lock SecretHub out.
                await b.pools.close(name);
                throw new InternalError(
                  `root rotation outcome unknown: ${e.message}; the next use of "${name}" keeps whichever of the old and new password PostgreSQL accepts`,
                );
              }
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
