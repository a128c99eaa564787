/**
 * KV secrets engine, version 2: versioned secrets at Vault's paths (`config`, `data/`,
 * `metadata/`, `delete/`, `undelete/`, `destroy/`, `subkeys/`). Storage layout: see store.ts.
 */
import type { EngineFactory } from "../sdk.ts";
import type { KvBackend } from "./backend.ts";
import { KeyLock } from "./key_lock.ts";
import { pathConfig } from "./path_config.ts";
import { pathData } from "./path_data.ts";
import { pathInvalid } from "./path_invalid.ts";
import { pathMetadata } from "./path_metadata.ts";
import { pathSubkeys } from "./path_subkeys.ts";
import { pathDelete, pathDestroy, pathUndelete } from "./path_versions.ts";
import { KvStore } from "./store.ts";

export const kvFactory: EngineFactory = (ctx) => {
  const kv: KvBackend = { store: new KvStore(ctx.storage), lock: new KeyLock(), now: ctx.now };
  return {
    type: "kv",
    version: "2",
    // Matched in order; the catch-all must come last.
    paths: [
      pathConfig(kv),
      pathData(kv),
      pathMetadata(kv),
      pathDelete(kv),
      pathUndelete(kv),
      pathDestroy(kv),
      pathSubkeys(kv),
      pathInvalid(),
    ],
  };
};
