/**
 * `delete/`, `undelete/` and `destroy/:path+`: soft-delete, restore or wipe chosen versions.
 * Unknown versions are skipped silently and a missing secret is a 204, as in Vault.
 */
import { BadRequest, type EngineRequest, type PathSpec, v } from "../sdk.ts";
import type { KvBackend } from "./backend.ts";
import { secretPath } from "./key_path.ts";
import { isLive, type KeyMeta, type KvConfig, scheduledDeletion } from "./model.ts";
import { versionsBody } from "./schemas.ts";
import { KvStore } from "./store.ts";
import type { WriteOp } from "../sdk.ts";

type VersionsBody = v.InferOutput<typeof versionsBody>;

/** Applies a change to each named version; returns the data keys to delete with the metadata. */
type Mutation = (
  meta: KeyMeta,
  versions: number[],
  ctx: { path: string; now: number; config: KvConfig },
) => WriteOp[];

function versionsPath(
  kv: KvBackend,
  name: string,
  synopsis: string,
  emptyMessage: string,
  mutate: Mutation,
): PathSpec {
  async function handle(req: EngineRequest): Promise<void> {
    const path = secretPath(req.params.path);
    if (path === "") throw new BadRequest("missing path");
    const { versions } = req.data as VersionsBody;
    if (versions.length === 0) throw new BadRequest(emptyMessage);
    await kv.lock.run(path, async () => {
      const meta = await kv.store.meta(path);
      if (!meta) return;
      const config = await kv.store.config();
      const extra = mutate(meta, versions, { path, now: kv.now(), config });
      await kv.store.commit([KvStore.putMeta(path, meta), ...extra]);
    });
  }
  return {
    pattern: `${name}/:path+`,
    input: { write: versionsBody },
    synopsis,
    operations: { create: handle, update: handle },
  };
}

export function pathDelete(kv: KvBackend): PathSpec {
  return versionsPath(
    kv,
    "delete",
    "Soft-delete versions of a secret",
    "No version number provided",
    (meta, versions, { now }) => {
      for (const n of versions) {
        const vm = meta.versions[n];
        if (vm && isLive(vm, now)) vm.deletionMs = now;
      }
      return [];
    },
  );
}

export function pathUndelete(kv: KvBackend): PathSpec {
  return versionsPath(
    kv,
    "undelete",
    "Restore soft-deleted versions of a secret",
    "No version number provided",
    (meta, versions, { now, config }) => {
      for (const n of versions) {
        const vm = meta.versions[n];
        // A restored version gets a fresh delete_version_after deadline, counted from now.
        if (vm && !vm.destroyed) vm.deletionMs = scheduledDeletion(now, meta, config);
      }
      return [];
    },
  );
}

export function pathDestroy(kv: KvBackend): PathSpec {
  return versionsPath(
    kv,
    "destroy",
    "Permanently remove the data of versions of a secret",
    "no version number provided",
    (meta, versions, { path }) => {
      const ops: WriteOp[] = [];
      for (const n of versions) {
        const vm = meta.versions[n];
        if (!vm || vm.destroyed) continue;
        vm.destroyed = true;
        ops.push(KvStore.deleteVersion(path, n));
      }
      return ops;
    },
  );
}
