/**
 * `creds/:name`: a new PostgreSQL login per read, created by the role's statements in one
 * transaction and handed out as a leased secret. The lease's internal data carries everything
 * renewal and revocation need, so they still work after the role is deleted.
 */
import { BadRequest, InternalError, type MountTtls, type PathSpec } from "../sdk.ts";
import type { DatabaseBackend } from "./backend.ts";
import { generatePassword, generateUsername, validUntil } from "./credentials.ts";
import { CommitUncertain, configSecrets, runInTransaction } from "./postgres.ts";
import { checkName, roleAllowed } from "./schemas.ts";
import { type CredsInternal, revokeLogin } from "./secrets.ts";
import { usableConfig } from "./settle.ts";
import type { RoleRecord } from "./store.ts";

/**
 * EngineRequest carries no token display name; Vault's tokens without one are named "token",
 * which keeps the `v-<display>-<role>-…` shape.
 */
const DISPLAY_NAME = "token";

/**
 * The lease's TTL in seconds, as Vault's CalculateTTL and core's lease manager reckon it: the
 * role's default, else the mount's; capped by the role's max and the mount's max.
 */
export function credsTtl(role: Pick<RoleRecord, "default_ttl" | "max_ttl">, mount: MountTtls) {
  const max = role.max_ttl > 0 ? Math.min(role.max_ttl, mount.maxTtl) : mount.maxTtl;
  return Math.max(1, Math.min(role.default_ttl || mount.defaultTtl, max));
}

export function pathCreds(b: DatabaseBackend): PathSpec {
  return {
    pattern: "creds/:name",
    synopsis: "Create a PostgreSQL login for a role",
    operations: {
      async read(req) {
        const name = checkName("role", req.params.name!);
        const role = await b.store.role(name);
        if (!role) throw new BadRequest(`unknown role: ${name}`);
        const cfg = await usableConfig(b, role.db_name);
        if (!cfg) throw new BadRequest(`unknown database "${role.db_name}" for role "${name}"`);
        if (!roleAllowed(cfg.allowed_roles, name)) {
          throw new BadRequest(`"${name}" is not an allowed role for database "${role.db_name}"`);
        }
        const now = b.now();
        const ttl = credsTtl(role, b.mountTtls());
        const username = generateUsername(DISPLAY_NAME, name, now);
        const password = generatePassword();
        const internal: CredsInternal = {
          username,
          role: name,
          db_name: role.db_name,
          revocation_statements: role.revocation_statements,
          renew_statements: role.renew_statements,
        };
        const expiration = validUntil(now + ttl * 1000);
        try {
          await runInTransaction(
            b.pools.get(role.db_name, cfg),
            role.creation_statements,
            { name: username, username, password, expiration },
            [password, ...configSecrets(cfg)],
          );
        } catch (e) {
          if (!(e instanceof CommitUncertain)) throw e;
          // No lease will ever name this login: revoke it now (best effort; VALID UNTIL ends
          // it otherwise), as core does for credentials it could not lease.
          const revoked = await revokeLogin(b, internal).then(() => true, () => false);
          throw new InternalError(
            `${e.message}; the login may have been created, and ${
              revoked ? "was revoked" : `could not be revoked (it expires at ${expiration})`
            }`,
          );
        }
        return {
          data: { username, password },
          secret: { ttl, maxTtl: role.max_ttl, renewable: true, internal: { ...internal } },
        };
      },
    },
  };
}
