/** What every AppRole handler shares, and the lock names they agree on. */
import type { AuthMethodContext } from "../types.ts";
import type { KeyedLock } from "./lock.ts";
import type { AppRoleStore } from "./store.ts";

export interface AppRoleDeps {
  ctx: AuthMethodContext;
  store: AppRoleStore;
  locks: KeyedLock;
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
