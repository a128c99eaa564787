/** `data/:path+`: read a version, write a new one, merge-patch the latest, soft-delete the latest. */
import {
  BadRequest,
  deepFreeze,
  type EngineRequest,
  fields,
  NotFound,
  type PathSpec,
  v,
} from "../sdk.ts";
import { type KvBackend, secretExists } from "./backend.ts";
import { checkCas } from "./cas.ts";
import { secretPath } from "./key_path.ts";
import { mergePatch } from "./merge_patch.ts";
import { addVersion, isLive, type KeyMeta, newKeyMeta, versionView } from "./model.ts";
import { dataBody, dataBodyFields, MAX_DATA_KEYS, versionQuery } from "./schemas.ts";
import { KvStore } from "./store.ts";

type DataBody = v.InferOutput<typeof dataBody>;

function requirePath(req: EngineRequest): string {
  const path = secretPath(req.params.path);
  if (path === "") throw new BadRequest("missing path");
  return path;
}

/**
 * A read's `data`, built once per stored (metadata, version data) pair and frozen: core memoizes
 * a frozen response's JSON (core/http/json_memo.ts) and its audit HMAC (AuditEntryBuilder) by
 * identity, so repeated reads of an unchanged secret serialize and hash nothing again. Keyed
 * weakly on the shared metadata object, which storage replaces on any change to the secret.
 */
const views = new WeakMap<object, Map<number, { data: object; view: Record<string, unknown> }>>();

function readView(
  meta: Readonly<KeyMeta>,
  version: number,
  data: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  let byVersion = views.get(meta);
  if (!byVersion) views.set(meta, byVersion = new Map());
  const hit = byVersion.get(version);
  if (hit && hit.data === data) return hit.view;
  const view = deepFreeze({ data, metadata: versionView(meta, version) });
  byVersion.set(version, { data, view });
  return view;
}

export function pathData(kv: KvBackend): PathSpec {
  return {
    pattern: "data/:path+",
    input: { read: versionQuery, write: dataBody, patch: dataBody },
    exists: secretExists(kv),
    synopsis: "Write, patch, read and delete versions of a secret",
    operations: {
      async read(req) {
        const path = requirePath(req);
        const meta = kv.store.peekMeta(path) ?? await kv.store.sharedMeta(path);
        if (!meta) throw new NotFound();
        const asked = (req.data as v.InferOutput<typeof versionQuery>).version ?? 0;
        const version = asked > 0 ? asked : meta.currentVersion;
        const vm = meta.versions[version];
        if (!vm) throw new NotFound();
        if (!isLive(vm, kv.now())) {
          throw new NotFound([], { data: { data: null, metadata: versionView(meta, version) } });
        }
        const data = kv.store.peekVersionData(path, version) ??
          await kv.store.sharedVersionData(path, version);
        if (!data) {
          throw new Error(`kv: metadata lists version ${version} of a secret without data`);
        }
        return { data: readView(meta, version, data) };
      },

      create: write,
      update: write,

      patch(req) {
        const path = requirePath(req);
        const body = req.data as DataBody;
        return kv.lock.run(path, async () => {
          const meta = await kv.store.meta(path);
          if (!meta) throw new NotFound();
          const config = await kv.store.config();
          checkCas(body.options?.cas, config, meta);
          const current = meta.versions[meta.currentVersion];
          if (!current) throw new NotFound();
          const now = kv.now();
          // Vault puts the version metadata directly under `data` here, unlike a read.
          if (!isLive(current, now)) {
            throw new NotFound([], { data: versionView(meta, meta.currentVersion) });
          }
          const existing = await kv.store.versionData(path, meta.currentVersion);
          if (!existing) throw new Error("kv: current version has metadata but no data");
          const merged = mergePatch(existing, body.data) as Record<string, unknown>;
          if (Object.keys(merged).length > MAX_DATA_KEYS) {
            throw new BadRequest(`data must have at most ${MAX_DATA_KEYS} keys`);
          }
          const { version, pruned } = addVersion(meta, config, now);
          await kv.store.commit([
            KvStore.putVersion(path, version, merged),
            KvStore.putMeta(path, meta),
            ...pruned.map((n) => KvStore.deleteVersion(path, n)),
          ]);
          return { data: versionView(meta, version) };
        });
      },

      delete(req) {
        const path = requirePath(req);
        return kv.lock.run(path, async () => {
          const meta = await kv.store.meta(path);
          const latest = meta?.versions[meta.currentVersion];
          const now = kv.now();
          if (!meta || !latest || !isLive(latest, now)) return;
          latest.deletionMs = now;
          await kv.store.commit([KvStore.putMeta(path, meta)]);
        });
      },
    },
  };

  function write(req: EngineRequest) {
    const path = requirePath(req);
    const body = req.data as DataBody;
    return kv.lock.run(path, async () => {
      const config = await kv.store.config();
      const now = kv.now();
      const meta = (await kv.store.meta(path)) ?? newKeyMeta(now);
      checkCas(body.options?.cas, config, meta);
      const { version, pruned } = addVersion(meta, config, now);
      await kv.store.commit([
        KvStore.putVersion(path, version, body.data!),
        KvStore.putMeta(path, meta),
        ...pruned.map((n) => KvStore.deleteVersion(path, n)),
      ]);
      // Vault says which parameters it ignored (`{"data": {…}, "option": {…}}` is a typo).
      return {
        data: versionView(meta, version),
        warnings: fields.ignoredParamsWarning(req.data, dataBodyFields),
      };
    });
  }
}
