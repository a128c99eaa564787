/** What every KV path handler shares: the mount's store, the per-secret lock and the clock. */
import type { EngineRequest } from "../sdk.ts";
import type { KeyLock } from "./key_lock.ts";
import { secretPath } from "./key_path.ts";
import type { KvStore } from "./store.ts";

export interface KvBackend {
  store: KvStore;
  lock: KeyLock;
  now(): number;
}

/**
 * Existence check for the ACL's create-vs-update decision. A malformed path is reported as absent
 * so the handler, not the ACL step, produces the 400.
 */
export function secretExists(kv: KvBackend): (req: EngineRequest) => Promise<boolean> {
  return async (req) => {
    let path: string;
    try {
      path = secretPath(req.params.path);
    } catch {
      return false;
    }
    return path !== "" && (await kv.store.meta(path)) !== null;
  };
}
