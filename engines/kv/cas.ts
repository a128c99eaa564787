/** Check-and-set, shared by data writes and patches. */
import { BadRequest } from "../sdk.ts";
import type { KeyMeta, KvConfig } from "./model.ts";

export function checkCas(cas: number | null | undefined, config: KvConfig, meta: KeyMeta): void {
  if (cas !== undefined && cas !== null) {
    // cas 0 means "only if the key has no versions yet", which is current_version 0.
    if (cas !== meta.currentVersion) {
      throw new BadRequest("check-and-set parameter did not match the current version");
    }
  } else if (config.casRequired || meta.casRequired) {
    throw new BadRequest("check-and-set parameter required for this call");
  }
}
