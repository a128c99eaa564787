/**
 * Maps secrets to environment variables for `secrethub agent exec`.
 *
 * Two sources, merged:
 * - explicit: `exec.env` NAME → "path#field" — the field's value, verbatim for strings, JSON for
 *   anything else. A missing secret or field is an error: the child is never started (or
 *   restarted) with a variable silently unset.
 * - prefix scheme: for each path in `exec.prefix_paths`, every field F of its data becomes
 *   `<env_prefix><F'>`, where F' is F upper-cased with each character outside [A-Z0-9_] replaced by
 *   "_" (`db-password` → `APP_SECRETS__DB_PASSWORD`). Two fields landing on the same name are an
 *   error rather than one silently winning. Explicit names take precedence over prefix names.
 */
import type { SecretLookup } from "../template/mod.ts";

export interface ExecEnvSpec {
  env: Record<string, { path: string; field: string }>;
  env_prefix?: string | undefined;
  prefix_paths?: string[];
}

export class ExecEnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExecEnvError";
  }
}

function asText(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v) ?? "";
  if (s.includes("\0")) {
    throw new ExecEnvError("Cannot put a value containing NUL in the environment");
  }
  return s;
}

export function envNameForField(prefix: string, field: string): string {
  return prefix + field.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
}

/** The secret part of the child's environment (the caller adds the agent's own environment). */
export function buildExecEnv(spec: ExecEnvSpec, lookup: SecretLookup): Record<string, string> {
  const out: Record<string, string> = {};
  const origin: Record<string, string> = {};
  if (spec.env_prefix !== undefined) {
    for (const path of spec.prefix_paths ?? []) {
      const data = lookup(path);
      if (data === undefined) {
        throw new ExecEnvError(`Cannot build environment: secret "${path}" not found`);
      }
      for (const [field, value] of Object.entries(data)) {
        const name = envNameForField(spec.env_prefix, field);
        if (name in origin) {
          throw new ExecEnvError(
            `Cannot build environment: "${name}" comes from both ${
              origin[name]
            } and field "${field}" of "${path}"`,
          );
        }
        origin[name] = `field "${field}" of "${path}"`;
        out[name] = asText(value);
      }
    }
  }
  for (const [name, ref] of Object.entries(spec.env)) {
    const data = lookup(ref.path);
    if (data === undefined) {
      throw new ExecEnvError(`Cannot build environment: secret "${ref.path}" not found`);
    }
    if (!Object.hasOwn(data, ref.field)) {
      throw new ExecEnvError(
        `Cannot build environment: field "${ref.field}" not found in secret "${ref.path}" (for ${name})`,
      );
    }
    out[name] = asText(data[ref.field]);
  }
  return out;
}
