/** `config`: mount-wide max_versions, cas_required and delete_version_after. */
import { fields, type PathSpec, v } from "../sdk.ts";
import type { KvBackend } from "./backend.ts";
import { configView } from "./model.ts";
import { signedDuration } from "./schemas.ts";

const configWrite = v.looseObject({
  max_versions: v.optional(fields.nonNegInt),
  cas_required: v.optional(fields.bool),
  delete_version_after: v.optional(signedDuration),
});

export function pathConfig(kv: KvBackend): PathSpec {
  async function write(req: { data: Record<string, unknown> }): Promise<void> {
    const body = req.data as v.InferOutput<typeof configWrite>;
    if (
      body.max_versions === undefined && body.cas_required === undefined &&
      body.delete_version_after === undefined
    ) return;
    // Orders concurrent config writers; "\0" keeps the lock name apart from every secret path.
    await kv.lock.run("\0config", async () => {
      const config = await kv.store.config();
      if (body.max_versions !== undefined) config.maxVersions = body.max_versions;
      if (body.cas_required !== undefined) config.casRequired = body.cas_required;
      if (body.delete_version_after !== undefined) {
        // Any negative value means "disabled"; Vault stores it as -1s.
        config.deleteVersionAfter = body.delete_version_after < 0 ? -1 : body.delete_version_after;
      }
      await kv.store.putConfig(config);
    });
  }

  return {
    pattern: "config",
    input: { write: configWrite },
    synopsis: "Mount-wide settings of the versioned KV store",
    operations: {
      async read() {
        return { data: configView(await kv.store.config()) };
      },
      create: write,
      update: write,
    },
  };
}
