/**
 * The AppRole auth method (Vault's paths and shapes, relative to `auth/<mount>/`): machines log
 * in with a role-id plus a secret-id. Role and secret-id management are authenticated and
 * ACL-checked by the core; only `login` is open.
 */
import { type AuthMethodFactory, withLoginRecords } from "../types.ts";
import type { AppRoleDeps } from "./deps.ts";
import { hasherLoader } from "./hasher.ts";
import { KeyedLock } from "./lock.ts";
import { loginHandler } from "./login.ts";
import { LoginCache } from "./login_cache.ts";
import { roleRoutes } from "./role_routes.ts";
import * as schemas from "./schemas.ts";
import { secretIdRoutes } from "./secret_id_routes.ts";
import { AppRoleStore } from "./store.ts";
import { tidyRoutes } from "./tidy.ts";
import { WriteEpochView } from "./write_epoch.ts";

export const approleFactory: AuthMethodFactory = (ctx) => {
  // Every handler of this mount writes through this one view: the login cache relies on it.
  const storage = new WriteEpochView(ctx.storage);
  const deps: AppRoleDeps = {
    ctx,
    store: new AppRoleStore(storage, hasherLoader(storage)),
    locks: new KeyedLock(),
    loginCache: new LoginCache(storage),
    roleEpochs: new Map(),
  };
  return {
    type: "approle",
    paths: [
      withLoginRecords({
        pattern: "login",
        unauthenticated: true,
        input: { write: schemas.login },
        operations: { update: loginHandler(deps) },
      }, { kind: "role", read: (name) => deps.store.role(name) }),
      ...tidyRoutes(deps),
      ...roleRoutes(deps),
      ...secretIdRoutes(deps),
    ],
  };
};
