/**
 * Where a `kv` PATH lives: its mount, the path inside it, and the KV version. Like Vault's CLI,
 * it asks `sys/internal/ui/mounts/<path>`; when the server cannot answer that (no permission,
 * older server), it assumes KV v2 with the mount being `-mount` or PATH's first segment.
 * @module
 */
import { flagInt, flagString, flagStrings } from "../../lib/flags.ts";
import type { Ctx } from "../command.ts";
import { UsageError } from "../errors.ts";
import { asObj, dataOf } from "../output.ts";
import { encodePath, joinPath, trimSlashes } from "../paths.ts";

export interface KvTarget {
  mount: string;
  /** The secret's path inside the mount, without leading or trailing slashes. */
  path: string;
  version: 1 | 2;
}

export type KvV2Prefix = "data" | "metadata" | "delete" | "undelete" | "destroy";

export async function resolveKv(ctx: Ctx, raw: string): Promise<KvTarget> {
  const mountFlag = flagString(ctx.parsed, "mount");
  const probe = trimSlashes(mountFlag ?? raw);
  if (probe === "") throw new UsageError("Missing PATH (or -mount)");

  const res = await ctx.api("GET", `sys/internal/ui/mounts/${encodePath(probe)}`, undefined, {
    action: `looking up the mount of ${probe}`,
    accept: [400, 403, 404, 405],
  });
  const d = res.status === 200 ? dataOf(res.body) : {};
  const reported = typeof d.path === "string" ? trimSlashes(d.path) : "";

  let mount: string;
  let path: string;
  if (mountFlag !== undefined) {
    mount = trimSlashes(mountFlag);
    path = trimSlashes(raw);
  } else if (reported && (probe === reported || probe.startsWith(`${reported}/`))) {
    mount = reported;
    path = trimSlashes(probe.slice(reported.length));
  } else {
    const slash = probe.indexOf("/");
    mount = slash === -1 ? probe : probe.slice(0, slash);
    path = slash === -1 ? "" : probe.slice(slash + 1);
  }
  return { mount, path, version: kvVersion(d) };
}

/** Version 1 only when the server says so; anything unknown is treated as v2. */
function kvVersion(mountInfo: Record<string, unknown>): 1 | 2 {
  const type = mountInfo.type;
  if (type === "kv-v2") return 2;
  if (type !== "kv" && type !== "generic" && type !== "kv-v1") return 2;
  return String(asObj(mountInfo.options).version ?? "1") === "2" ? 2 : 1;
}

/** The API path (URL-encoded) for a v2 operation, e.g. `secret/data/app/db`. */
export function v2Path(t: KvTarget, prefix: KvV2Prefix, trailing = false): string {
  return encodePath(displayPath(t, prefix, trailing));
}

/** The same path unencoded, for messages. */
export function displayPath(t: KvTarget, prefix?: KvV2Prefix, trailing = false): string {
  const p = prefix ? joinPath(t.mount, prefix, t.path) : joinPath(t.mount, t.path);
  return trailing && !p.endsWith("/") ? `${p}/` : p;
}

export function requirePath(t: KvTarget): void {
  if (t.path === "") throw new UsageError("Missing secret path inside the mount");
}

export function requireV2(t: KvTarget, what: string): void {
  if (t.version !== 2) {
    throw new UsageError(`${what} is not supported on KV version 1 (${t.mount}/)`);
  }
}

/** `-versions=1,2 -versions 3` → [1, 2, 3]. */
export function versionsFlag(ctx: Ctx, required: boolean): number[] | undefined {
  const raw = flagStrings(ctx.parsed, "versions").flatMap((s) => s.split(","))
    .map((s) => s.trim()).filter((s) => s !== "");
  if (raw.length === 0) {
    if (required) throw new UsageError('No versions provided, use the "-versions" flag');
    return undefined;
  }
  return raw.map((s) => {
    const n = /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isSafeInteger(n)) throw new UsageError(`Invalid version "${s}" in -versions`);
    return n;
  });
}

/** The `options.cas` value, when `-cas` was given. */
export function casOption(ctx: Ctx): { cas: number } | undefined {
  const cas = flagInt(ctx.parsed, "cas");
  return cas === undefined || cas < 0 ? undefined : { cas };
}
