/**
 * Renewal and revocation of the logins `creds/:name` creates, called by core's lease manager.
 * Revocation is idempotent: a login that no longer exists is already revoked.
 */
import { type EngineSecrets, InternalError, type LeaseInfo } from "../sdk.ts";
import type { DatabaseBackend } from "./backend.ts";
import { validUntil } from "./credentials.ts";
import {
  configSecrets,
  DEFAULT_RENEW,
  defaultRevoke,
  roleOid,
  runInTransaction,
  terminateSessions,
  transaction,
  withConnection,
} from "./postgres.ts";
import { usableConfig } from "./settle.ts";
import type { ConfigRecord } from "./store.ts";

/**
 * A lease's internal data: the login, and the role's connection and statements as they were at
 * issue, for when the role is gone by the time the lease ends.
 */
export interface CredsInternal {
  username: string;
  role: string;
  db_name: string;
  revocation_statements: string[];
  renew_statements: string[];
}

function internalOf(lease: LeaseInfo): CredsInternal {
  const i = lease.internal;
  const list = (x: unknown) =>
    Array.isArray(x) ? x.filter((s): s is string => typeof s === "string") : [];
  if (typeof i.username !== "string" || !i.username || typeof i.db_name !== "string") {
    throw new InternalError("lease data names no database user");
  }
  return {
    username: i.username,
    role: typeof i.role === "string" ? i.role : "",
    db_name: i.db_name,
    revocation_statements: list(i.revocation_statements),
    renew_statements: list(i.renew_statements),
  };
}

async function configFor(b: DatabaseBackend, dbName: string): Promise<ConfigRecord> {
  const cfg = await usableConfig(b, dbName);
  if (!cfg) throw new InternalError(`database "${dbName}" is no longer configured`);
  return cfg;
}

/**
 * Drops a login (and ends its sessions) on the connection that made it: a role repointed at
 * another connection (or deleted and made again there) no longer knows where the login lives.
 * The role's current revocation statements, as Vault's secretCredsRevoke, while it still uses
 * that connection, so fixing a role unsticks a revoke that keeps failing; otherwise the copy
 * taken at issue (the role's new statements were written for another database).
 */
export async function revokeLogin(b: DatabaseBackend, creds: CredsInternal): Promise<void> {
  const dbName = creds.db_name;
  const role = creds.role ? await b.store.role(creds.role) : null;
  const stmts = role?.db_name === dbName ? role.revocation_statements : creds.revocation_statements;
  const cfg = await configFor(b, dbName);
  const secrets = configSecrets(cfg);
  // One connection throughout: a pool replaced by a config write mid-way cannot split it.
  await withConnection(b.pools.get(dbName, cfg), secrets, async (client) => {
    const oid = await roleOid(client, creds.username);
    if (oid === null) return;
    const values = { name: creds.username, username: creds.username };
    if (stmts.length) await transaction(client, stmts, values, secrets);
    else await defaultRevoke(client, creds.username);
    // DROP ROLE leaves open sessions running.
    await terminateSessions(client, oid);
  });
}

export function databaseSecrets(b: DatabaseBackend): EngineSecrets {
  return {
    async renew(lease, expireTime) {
      const creds = internalOf(lease);
      const cfg = await configFor(b, creds.db_name);
      // The role's current statements win; the lease's copy covers a deleted role.
      const role = creds.role ? await b.store.role(creds.role) : null;
      const stmts = role?.renew_statements.length
        ? role.renew_statements
        : creds.renew_statements.length
        ? creds.renew_statements
        : DEFAULT_RENEW;
      await runInTransaction(
        b.pools.get(creds.db_name, cfg),
        stmts,
        {
          name: creds.username,
          username: creds.username,
          expiration: validUntil(expireTime),
        },
        configSecrets(cfg),
      );
    },

    revoke(lease) {
      return revokeLogin(b, internalOf(lease));
    },
  };
}
