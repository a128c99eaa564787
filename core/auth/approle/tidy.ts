/**
 * tidy/secret-id: removes expired secret-ids, secret-ids whose role is gone, and accessor
 * entries that point at nothing. Logins never delete expired entries themselves (that would
 * make a failure cost a write, and so be told apart by timing), so this is what reclaims them.
 */
import type { WriteOp } from "../../../engines/sdk.ts";
import type { CorePathSpec } from "../../router/types.ts";
import { type AppRoleDeps, lockKeys } from "./deps.ts";
import { isExpired } from "./secret_id.ts";
import { keys } from "./store.ts";

async function folders(deps: AppRoleDeps, prefix: string): Promise<string[]> {
  return (await deps.store.storage.list(prefix))
    .filter((k) => k.endsWith("/"))
    .map((k) => k.slice(0, -1));
}

export async function tidySecretIds(
  deps: AppRoleDeps,
): Promise<{ secretIds: number; accessors: number }> {
  const { ctx, store, locks } = deps;
  let secretIds = 0;
  let accessors = 0;
  for (const name of await folders(deps, "secret_id/")) {
    const roleGone = (await store.role(name)) === null;
    for (const hmac of await store.secretHmacs(name)) {
      await locks.run(lockKeys.secret(hmac), async () => {
        const e = await store.secret(name, hmac);
        if (!e || !(roleGone || isExpired(e, ctx.now()))) return;
        await store.storage.batch(store.deleteSecretOps(name, e));
        secretIds++;
      });
    }
  }
  for (const name of await folders(deps, "accessor/")) {
    for (const accessor of await store.accessors(name)) {
      const hmac = await store.accessorTarget(name, accessor);
      await locks.run(lockKeys.secret(hmac ?? ""), async () => {
        if (hmac && await store.secret(name, hmac)) return;
        const op: WriteOp = { op: "delete", key: keys.accessor(name, accessor) };
        await store.storage.batch([op]);
        accessors++;
      });
    }
  }
  return { secretIds, accessors };
}

export function tidyRoutes(deps: AppRoleDeps): CorePathSpec[] {
  return [{
    pattern: "tidy/secret-id",
    operations: {
      update: async () => {
        const removed = await tidySecretIds(deps);
        return {
          status: 202,
          data: { secret_ids_removed: removed.secretIds, accessors_removed: removed.accessors },
          warnings: ["Tidy operation completed: expired and orphaned secret-ids were removed."],
        };
      },
    },
  }];
}
