/** What every AppRole handler shares, and the lock names they agree on. */
import type { AuthMethodContext } from "../types.ts";
import type { KeyedLock } from "./lock.ts";
import type { LoginCache } from "./login_cache.ts";
import type { AppRoleStore } from "./store.ts";

export interface AppRoleDeps {
  ctx: AuthMethodContext;
  store: AppRoleStore;
  locks: KeyedLock;
  loginCache: LoginCache;
  /**
   * Bumped (after the commit) whenever a role is deleted or its role_id changes, so a login can
   * tell in memory, without re-reading the role, that its role went away while it was minting.
   */
  roleEpochs: Map<string, number>;
}

export function bumpRoleEpoch(deps: Pick<AppRoleDeps, "roleEpochs">, name: string): void {
  deps.roleEpochs.set(name, (deps.roleEpochs.get(name) ?? 0) + 1);
}

/**
 * Lock names. Role writes hold `roles` (role-id uniqueness spans roles) and `role:<name>`;
 * secret-id generation holds `role:<name>` so it cannot race a role deletion; anything that reads
 * then rewrites or deletes one secret-id holds `sid:<hmac>`. Multi-key holders use runAll, whose
 * sorted order ("role:…" < "roles" < "sid:…") is the one global order.
 */
export const lockKeys = {
  roles: "roles",
  role: (name: string) => `role:${name}`,
  secret: (hmac: string) => `sid:${hmac}`,
};
