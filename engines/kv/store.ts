/**
 * Storage layout of one KV v2 mount (keys are relative to the mount's view):
 *
 *   config              KvConfig
 *   meta/<path>         KeyMeta: settings, custom_metadata and every version's timestamps
 *   ver/<path>/<n>      the data map of version n
 *
 * Metadata lives apart from the data so that LIST is a plain `list("meta/<folder>")` and filtered
 * lists, metadata reads and deletes never decrypt secret values. Inlining the latest version in
 * the metadata would save one get per data read, but every metadata-only change (soft delete,
 * custom_metadata, undelete) would then rewrite the largest blob, and filtered LISTs would decrypt
 * every secret in the folder. So a read costs exactly two gets: `meta/<path>` then
 * `ver/<path>/<n>`; the mount config is only read on writes.
 *
 * Version keys hang below the secret's own name: `ver/a/1` (version 1 of "a") and `ver/a/1/1`
 * (version 1 of "a/1") are distinct keys, so no secret name can collide with another's versions.
 */
import {
  peekShared,
  putJSONOp,
  readJSON,
  readShared,
  type StorageView,
  type WriteOp,
} from "../sdk.ts";
import { DEFAULT_CONFIG, type KeyMeta, type KvConfig } from "./model.ts";

const CONFIG_KEY = "config";

function metaKey(path: string): string {
  return `meta/${path}`;
}

function versionKey(path: string, version: number): string {
  return `ver/${path}/${version}`;
}

export class KvStore {
  #storage: StorageView;

  constructor(storage: StorageView) {
    this.#storage = storage;
  }

  async config(): Promise<KvConfig> {
    return { ...DEFAULT_CONFIG, ...await readJSON<KvConfig>(this.#storage, CONFIG_KEY) };
  }

  putConfig(config: KvConfig): Promise<void> {
    return this.#storage.batch([putJSONOp(CONFIG_KEY, config)]);
  }

  meta(path: string): Promise<KeyMeta | null> {
    return readJSON<KeyMeta>(this.#storage, metaKey(path));
  }

  versionData(path: string, version: number): Promise<Record<string, unknown> | null> {
    return readJSON<Record<string, unknown>>(this.#storage, versionKey(path, version));
  }

  /** sharedMeta() when it can answer from memory at once, else undefined. */
  peekMeta(path: string): Readonly<KeyMeta> | undefined {
    return peekShared<KeyMeta>(this.#storage, metaKey(path));
  }

  /** sharedVersionData() when it can answer from memory at once, else undefined. */
  peekVersionData(path: string, version: number): Readonly<Record<string, unknown>> | undefined {
    return peekShared<Record<string, unknown>>(this.#storage, versionKey(path, version));
  }

  /** Read-only metadata, shared by readers until it changes (frozen; see readShared). */
  sharedMeta(path: string): Promise<Readonly<KeyMeta> | null> {
    return readShared<KeyMeta>(this.#storage, metaKey(path));
  }

  /** Read-only version data, shared by readers until it changes (frozen; see readShared). */
  sharedVersionData(
    path: string,
    version: number,
  ): Promise<Readonly<Record<string, unknown>> | null> {
    return readShared<Record<string, unknown>>(this.#storage, versionKey(path, version));
  }

  /** Immediate children of a folder ("" or "a/b/"): leaves, and sub-folders ending in "/". */
  list(folder: string): Promise<string[]> {
    return this.#storage.list(metaKey(folder));
  }

  /** Every multi-key change goes through here so it lands atomically and durably. */
  commit(ops: WriteOp[]): Promise<void> {
    return this.#storage.batch(ops);
  }

  static putMeta(path: string, meta: KeyMeta): WriteOp {
    return putJSONOp(metaKey(path), meta);
  }

  static deleteMeta(path: string): WriteOp {
    return { op: "delete", key: metaKey(path) };
  }

  static putVersion(path: string, version: number, data: Record<string, unknown>): WriteOp {
    return putJSONOp(versionKey(path, version), data);
  }

  static deleteVersion(path: string, version: number): WriteOp {
    return { op: "delete", key: versionKey(path, version) };
  }
}
