/**
 * Database secrets engine (PostgreSQL): connection configs, roles holding SQL statements, and
 * `creds/:name` creating a short-lived login per read, renewed and revoked through core's lease
 * manager, at Vault's paths and shapes. Storage layout: see store.ts; SQL handling: postgres.ts.
 */
import type { EngineFactory } from "../sdk.ts";
import { newBackend } from "./backend.ts";
import { pathConfig } from "./path_config.ts";
import { pathCreds } from "./path_creds.ts";
import { pathRoles } from "./path_roles.ts";
import { pathRoot } from "./path_root.ts";
import { databaseSecrets } from "./secrets.ts";

export const databaseFactory: EngineFactory = (ctx) => {
  const b = newBackend(ctx.storage, ctx.now, ctx.mountTtls?.bind(ctx));
  return {
    type: "database",
    version: "1",
    // Patterns are exact and disjoint (the list forms end in "/"), so order does not matter.
    paths: [...pathConfig(b), ...pathRoles(b), pathCreds(b), ...pathRoot(b)],
    secrets: databaseSecrets(b),
    close: () => b.pools.closeAll(),
  };
};
