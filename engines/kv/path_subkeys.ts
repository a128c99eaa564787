/** `subkeys/:path+`: the shape of a version's data with every value replaced by null. */
import { BadRequest, NotFound, type PathSpec, v } from "../sdk.ts";
import type { KvBackend } from "./backend.ts";
import { secretPath } from "./key_path.ts";
import { isPlainObject } from "./merge_patch.ts";
import { isLive, versionView } from "./model.ts";
import { queryInt } from "./schemas.ts";

const subkeysQuery = v.looseObject({
  version: v.optional(queryInt),
  depth: v.optional(queryInt),
});

/**
 * Non-empty maps are descended into until `maxDepth` (0 = unlimited); everything else, including
 * a map at the depth limit, becomes null so no value can leak through a truncated branch.
 */
export function stripValues(data: Record<string, unknown>, maxDepth: number, depth = 1) {
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(data)) {
    const descend = isPlainObject(val) && Object.keys(val).length > 0 &&
      (maxDepth === 0 || depth + 1 <= maxDepth);
    Object.defineProperty(out, k, {
      value: descend ? stripValues(val as Record<string, unknown>, maxDepth, depth + 1) : null,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

export function pathSubkeys(kv: KvBackend): PathSpec {
  return {
    pattern: "subkeys/:path+",
    input: { read: subkeysQuery },
    synopsis: "Read the key structure of a secret without its values",
    operations: {
      async read(req) {
        const path = secretPath(req.params.path);
        if (path === "") throw new BadRequest("missing path");
        const query = req.data as v.InferOutput<typeof subkeysQuery>;
        const meta = await kv.store.meta(path);
        if (!meta) throw new NotFound();
        const version = query.version || meta.currentVersion;
        const vm = meta.versions[version];
        if (!vm) throw new NotFound();
        const metadata = versionView(meta, version);
        if (!isLive(vm, kv.now())) throw new NotFound([], { data: { subkeys: null, metadata } });
        const data = await kv.store.versionData(path, version);
        if (!data) {
          throw new Error(`kv: metadata lists version ${version} of a secret without data`);
        }
        return { data: { subkeys: stripValues(data, query.depth ?? 0), metadata } };
      },
    },
  };
}
