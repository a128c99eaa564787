/**
 * The stored shapes of KV v2 and the rules that move them: adding a version (and pruning past
 * max_versions), scheduling deletion, deciding whether a version is live, and rendering the API
 * views. Pure functions over plain records, so the handlers stay short and the rules testable.
 */
import { formatDuration, MAX_DURATION_SECONDS, rfc3339 } from "../sdk.ts";

/** Vault's default when neither the mount config nor the key sets max_versions. */
export const DEFAULT_MAX_VERSIONS = 10;

export interface VersionMeta {
  createdMs: number;
  /** When the version stops being readable: a soft delete, or a delete_version_after deadline. */
  deletionMs: number | null;
  destroyed: boolean;
}

export interface KeyMeta {
  createdMs: number;
  updatedMs: number;
  currentVersion: number;
  /** 0 until the first prune, exactly as Vault reports it. */
  oldestVersion: number;
  /** Key-level settings; 0 / false mean "use the mount config". */
  maxVersions: number;
  casRequired: boolean;
  deleteVersionAfter: number;
  /** null rather than {} so reads print `null` like Vault does for an unset map. */
  customMetadata: Record<string, string> | null;
  versions: Record<string, VersionMeta>;
}

export interface KvConfig {
  maxVersions: number;
  casRequired: boolean;
  /** Seconds; 0 = unset, negative = disabled for every key (Vault's -1s sentinel). */
  deleteVersionAfter: number;
}

export const DEFAULT_CONFIG: KvConfig = {
  maxVersions: 0,
  casRequired: false,
  deleteVersionAfter: 0,
};

export function newKeyMeta(nowMs: number): KeyMeta {
  return {
    createdMs: nowMs,
    updatedMs: nowMs,
    currentVersion: 0,
    oldestVersion: 0,
    maxVersions: 0,
    casRequired: false,
    deleteVersionAfter: 0,
    customMetadata: null,
    versions: {},
  };
}

/**
 * Vault takes the larger of the key and mount settings (KeyMetadata.AddVersion), so a key cannot
 * keep fewer versions than the mount asks for; we copy that rather than the docs' "key overrides".
 */
export function effectiveMaxVersions(meta: KeyMeta, config: KvConfig): number {
  return Math.max(meta.maxVersions, config.maxVersions) || DEFAULT_MAX_VERSIONS;
}

/** The deadline for a version made or undeleted at `fromMs`: the smaller non-zero setting wins. */
export function scheduledDeletion(fromMs: number, meta: KeyMeta, config: KvConfig): number | null {
  if (config.deleteVersionAfter < 0) return null;
  const set = [config.deleteVersionAfter, meta.deleteVersionAfter].filter((s) => s > 0);
  if (!set.length) return null;
  // Inputs are bounded by parseDuration, but a setting stored before that bound could still put
  // the deadline past what Date can print, and the version would be committed before rendering
  // failed; the Go limit keeps every deadline printable.
  return fromMs + Math.min(...set, MAX_DURATION_SECONDS) * 1000;
}

/**
 * Appends a version and slides the max_versions window. Mutates `meta`; returns the new version
 * number and the versions that fell out of the window, whose data the caller must delete in the
 * same batch as the metadata write.
 */
export function addVersion(
  meta: KeyMeta,
  config: KvConfig,
  nowMs: number,
): { version: number; pruned: number[] } {
  const version = meta.currentVersion + 1;
  meta.currentVersion = version;
  meta.versions[version] = {
    createdMs: nowMs,
    deletionMs: scheduledDeletion(nowMs, meta, config),
    destroyed: false,
  };
  meta.updatedMs = nowMs;
  const max = effectiveMaxVersions(meta, config);
  const pruned: number[] = [];
  // Same arithmetic as Vault, including oldest_version jumping from 0 to 1 on the first prune.
  if (version - meta.oldestVersion >= max) {
    const lastToDrop = version - max;
    for (let n = meta.oldestVersion; n <= lastToDrop; n++) {
      if (meta.versions[n]) pruned.push(n);
      delete meta.versions[n];
    }
    meta.oldestVersion = lastToDrop + 1;
  }
  return { version, pruned };
}

/**
 * Millisecond clocks make "deleted at now" and "read at now" collide; Vault's nanoseconds avoid
 * that, so a deadline equal to now already counts as passed (a DELETE then GET must 404).
 */
export function isLive(vm: VersionMeta, nowMs: number): boolean {
  return !vm.destroyed && (vm.deletionMs === null || vm.deletionMs > nowMs);
}

/** Vault prints a negative mount setting (disabled) as a negative Go duration. */
export function formatSignedDuration(seconds: number): string {
  return seconds < 0 ? `-${formatDuration(-seconds)}` : formatDuration(seconds);
}

// Keys are in alphabetical order because Go marshals maps that way; clients that deep-compare
// bodies, or print them, then see what Vault gives them.

export function versionView(meta: KeyMeta, version: number): Record<string, unknown> {
  const vm = meta.versions[version]!;
  return {
    created_time: rfc3339(vm.createdMs),
    custom_metadata: meta.customMetadata,
    deletion_time: vm.deletionMs === null ? "" : rfc3339(vm.deletionMs),
    destroyed: vm.destroyed,
    version,
  };
}

export function metadataView(meta: KeyMeta): Record<string, unknown> {
  const versions: Record<string, unknown> = {};
  for (const [n, vm] of Object.entries(meta.versions)) {
    versions[n] = {
      created_time: rfc3339(vm.createdMs),
      deletion_time: vm.deletionMs === null ? "" : rfc3339(vm.deletionMs),
      destroyed: vm.destroyed,
    };
  }
  return {
    cas_required: meta.casRequired,
    created_time: rfc3339(meta.createdMs),
    current_version: meta.currentVersion,
    custom_metadata: meta.customMetadata,
    delete_version_after: formatDuration(meta.deleteVersionAfter),
    max_versions: meta.maxVersions,
    oldest_version: meta.oldestVersion,
    updated_time: rfc3339(meta.updatedMs),
    versions,
  };
}

export function configView(config: KvConfig): Record<string, unknown> {
  return {
    cas_required: config.casRequired,
    delete_version_after: formatSignedDuration(config.deleteVersionAfter),
    max_versions: config.maxVersions,
  };
}
