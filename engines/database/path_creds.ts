/**
 * `creds/:name`: a new PostgreSQL login per read, created by the role's statements in one
 * transaction and handed out as a leased secret. The lease's internal data carries everything
 * renewal and revocation need, so they still work after the role is deleted.
 */
import { BadRequest, type PathSpec } from "../sdk.ts";
import type { DatabaseBackend } from "./backend.ts";
import { formatExpiration, generatePassword, generateUsername } from "./credentials.ts";
import { runInTransaction } from "./postgres.ts";
import { checkName, roleAllowed } from "./schemas.ts";

/**
 * Vault's system default lease TTL (768h). The engine is not told the mount's tuned default, so
 * a role without `default_ttl` sets VALID UNTIL this far out; core's lease still expires at the
 * mount's TTL and revocation drops the login then.
 */
export const FALLBACK_TTL = 768 * 3600;

/**
 * EngineRequest carries no token display name; Vault's tokens without one are named "token",
 * which keeps the `v-<display>-<role>-…` shape.
 */
const DISPLAY_NAME = "token";

export interface CredsInternal {
  username: string;
  role: string;
  db_name: string;
  revocation_statements: string[];
  renew_statements: string[];
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
        const cfg = await b.store.config(role.db_name);
        if (!cfg) throw new BadRequest(`unknown database "${role.db_name}" for role "${name}"`);
        if (!roleAllowed(cfg.allowed_roles, name)) {
          throw new BadRequest(`"${name}" is not an allowed role for database "${role.db_name}"`);
        }
        const now = b.now();
        let ttl = role.default_ttl || FALLBACK_TTL;
        if (role.max_ttl > 0) ttl = Math.min(ttl, role.max_ttl);
        const username = generateUsername(DISPLAY_NAME, name, now);
        const password = generatePassword();
        await runInTransaction(
          b.pools.get(role.db_name, cfg),
          role.creation_statements,
          { name: username, username, password, expiration: formatExpiration(now + ttl * 1000) },
          [password, cfg.password, cfg.pending_password ?? ""],
        );
        const internal: CredsInternal = {
          username,
          role: name,
          db_name: role.db_name,
          revocation_statements: role.revocation_statements,
          renew_statements: role.renew_statements,
        };
        return {
          data: { username, password },
          secret: {
            ttl: role.default_ttl,
            maxTtl: role.max_ttl,
            renewable: true,
            internal: { ...internal },
          },
        };
      },
    },
  };
}
