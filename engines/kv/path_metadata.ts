/**
 * `metadata/:path*`: key settings and custom_metadata, version history, LIST, and the hard delete
 * of a secret with all its versions.
 */
import {
  BadRequest,
  type EngineRequest,
  fields,
  listResponse,
  NotFound,
  type PathSpec,
  v,
} from "../sdk.ts";
import { type KvBackend, secretExists } from "./backend.ts";
import {
  customMetadataPatch,
  customMetadataProblems,
  customMetadataWrite,
} from "./custom_metadata.ts";
import { hasFilter, type ListQuery, listQuery, matchesFilter } from "./list_filter.ts";
import { folderPath, secretPath } from "./key_path.ts";
import { mergePatch } from "./merge_patch.ts";
import { type KeyMeta, metadataView, newKeyMeta } from "./model.ts";
import { ROOT_WARNING } from "./path_invalid.ts";
import { KvStore } from "./store.ts";

// A null setting in a POST is ignored; in a PATCH (merge-patch semantics) it resets the setting.
const metadataWrite = v.looseObject({
  max_versions: v.optional(v.nullable(fields.nonNegInt)),
  cas_required: v.optional(v.nullable(fields.bool)),
  delete_version_after: v.optional(v.nullable(fields.duration)),
  custom_metadata: v.optional(customMetadataWrite),
});

const metadataPatch = v.looseObject({
  max_versions: v.optional(v.nullable(fields.nonNegInt)),
  cas_required: v.optional(v.nullable(fields.bool)),
  delete_version_after: v.optional(v.nullable(fields.duration)),
  custom_metadata: v.optional(customMetadataPatch),
});

type MetadataWrite = v.InferOutput<typeof metadataWrite>;
type MetadataPatch = v.InferOutput<typeof metadataPatch>;

const CAS_OVERRIDE_WARNING =
  '"cas_required" set to false, but is mandated by backend config. This value will be ignored.';

function requirePath(req: EngineRequest): string {
  const path = secretPath(req.params.path);
  if (path === "") throw new BadRequest("missing path");
  return path;
}

function nonEmpty(map: Record<string, string>): Record<string, string> | null {
  return Object.keys(map).length ? map : null;
}

export function pathMetadata(kv: KvBackend): PathSpec {
  /** Vault answers 200 with the warning when the mount forces cas_required anyway. */
  async function casWarning(casRequired: boolean | null | undefined) {
    if (casRequired !== false || !(await kv.store.config()).casRequired) return undefined;
    return { status: 200, warnings: [CAS_OVERRIDE_WARNING] };
  }

  return {
    pattern: "metadata/:path*",
    input: { write: metadataWrite, patch: metadataPatch, list: listQuery },
    exists: secretExists(kv),
    synopsis: "Settings, custom metadata and version history of a secret",
    operations: {
      async read(req) {
        const path = secretPath(req.params.path);
        if (path === "") return { status: 404, data: null, warnings: [ROOT_WARNING] };
        const meta = await kv.store.meta(path);
        if (!meta) throw new NotFound();
        return { data: metadataView(meta) };
      },

      async list(req) {
        const folder = folderPath(req.params.path);
        const query = req.data as ListQuery;
        let keys = (await kv.store.list(folder)).sort();
        // Filters look only at the leaves of this folder; sub-folders are always returned.
        // Deciding whether a folder holds a match would mean reading its whole subtree on every
        // LIST; keeping folders lets a client walking the tree repeat the filter one level down.
        // A filter reads custom_metadata, which `list` alone does not grant: a leaf whose
        // metadata the caller may not read never matches, or trying values would reveal it.
        if (hasFilter(query)) {
          const readable = (k: string) =>
            !req.allowed || req.allowed("read", `metadata/${folder}${k}`);
          const metas = await Promise.all(
            keys.map((k) => k.endsWith("/") || !readable(k) ? null : kv.store.meta(folder + k)),
          );
          keys = keys.filter((k, i) =>
            k.endsWith("/") || (metas[i] != null && matchesFilter(metas[i]!.customMetadata, query))
          );
        }
        if (query.after !== undefined) keys = keys.filter((k) => k > query.after!);
        if (query.limit) keys = keys.slice(0, query.limit);
        return listResponse(keys);
      },

      create: write,
      update: write,

      async patch(req) {
        const path = requirePath(req);
        const body = req.data as MetadataPatch;
        const warning = await casWarning(body.cas_required);
        await kv.lock.run(path, async () => {
          const meta = await kv.store.meta(path);
          if (!meta) throw new NotFound();
          if (body.max_versions !== undefined) meta.maxVersions = body.max_versions ?? 0;
          if (body.cas_required !== undefined) meta.casRequired = body.cas_required ?? false;
          if (body.delete_version_after !== undefined) {
            meta.deleteVersionAfter = body.delete_version_after ?? 0;
          }
          if (body.custom_metadata !== undefined) {
            const merged = body.custom_metadata === null
              ? {}
              : mergePatch(meta.customMetadata ?? {}, body.custom_metadata) as Record<
                string,
                string
              >;
            const problems = customMetadataProblems(merged);
            if (problems.length) {
              throw new BadRequest(problems.map((m) => `custom_metadata validation failed: ${m}`));
            }
            meta.customMetadata = nonEmpty(merged);
          }
          await kv.store.commit([KvStore.putMeta(path, meta)]);
        });
        return warning;
      },

      delete(req) {
        const path = requirePath(req);
        return kv.lock.run(path, async () => {
          const meta = await kv.store.meta(path);
          if (!meta) return;
          await kv.store.commit([
            ...Object.keys(meta.versions).map((n) => KvStore.deleteVersion(path, Number(n))),
            KvStore.deleteMeta(path),
          ]);
        });
      },
    },
  };

  async function write(req: EngineRequest) {
    const path = requirePath(req);
    const body = req.data as MetadataWrite;
    const given = <K extends keyof MetadataWrite>(k: K) =>
      body[k] !== undefined && body[k] !== null;
    // Vault says which parameters it ignored: `max_version` is a typo, not a setting.
    const ignored = fields.ignoredParamsWarning(req.data, metadataWrite);
    // Like Vault, a write that sets nothing does not create the metadata.
    if (
      !given("max_versions") && !given("cas_required") && !given("delete_version_after") &&
      body.custom_metadata === undefined
    ) return ignored ? { status: 200, warnings: ignored } : undefined;
    const cas = await casWarning(body.cas_required);
    const warnings = [...(cas?.warnings ?? []), ...(ignored ?? [])];
    const warning = warnings.length ? { status: 200, warnings } : undefined;
    await kv.lock.run(path, async () => {
      const meta: KeyMeta = (await kv.store.meta(path)) ?? newKeyMeta(kv.now());
      if (given("max_versions")) meta.maxVersions = body.max_versions!;
      if (given("cas_required")) meta.casRequired = body.cas_required!;
      if (given("delete_version_after")) meta.deleteVersionAfter = body.delete_version_after!;
      if (body.custom_metadata !== undefined) meta.customMetadata = nonEmpty(body.custom_metadata);
      await kv.store.commit([KvStore.putMeta(path, meta)]);
    });
    return warning;
  }
}
