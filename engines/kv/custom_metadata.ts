/**
 * custom_metadata: Vault's limits (64 keys, key ≤ 128 bytes, value ≤ 512 bytes, printable, non-empty)
 * plus SecretHub's well-known keys, whose values are checked so that inventory tooling and LIST
 * filters can rely on them:
 *
 *   description      free text
 *   tags             comma-separated list ("db, prod")
 *   service          owning service
 *   environment      e.g. "prod"
 *   secret_type      one of SECRET_TYPES
 *   rotation_period  a positive duration ("720h", "30d", seconds)
 */
import { parseDuration, v } from "../sdk.ts";
import { isPlainObject } from "./merge_patch.ts";

export const SECRET_TYPES = [
  "api_key",
  "database_password",
  "ssh_key",
  "tls_certificate",
  "token",
  "certificate",
  "password",
  "generic",
  "other",
] as const;

const MAX_KEYS = 64;
const MAX_KEY_BYTES = 128;
const MAX_VALUE_BYTES = 512;
const enc = new TextEncoder();
// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space only.
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u;

/**
 * Problems with one entry, in Vault's wording minus its "custom_metadata validation failed: "
 * prefix: the dispatcher already names the field, and the PATCH handler adds the prefix itself.
 */
function entryProblems(key: string, value: string): string[] {
  const out: string[] = [];
  const kl = enc.encode(key).length;
  const vl = enc.encode(value).length;
  if (kl === 0 || kl > MAX_KEY_BYTES) {
    out.push(
      `length of key "${key}" is ${kl} but must be 0 < len(key) <= ${MAX_KEY_BYTES}`,
    );
  }
  if (vl === 0 || vl > MAX_VALUE_BYTES) {
    out.push(
      `length of value for key "${key}" is ${vl} but must be 0 < len(value) <= ${MAX_VALUE_BYTES}`,
    );
  }
  if (!PRINTABLE.test(key)) out.push(`key "${key}" contains unprintable characters`);
  if (!PRINTABLE.test(value)) {
    out.push(`value for key "${key}" contains unprintable characters`);
  }
  if (key === "secret_type" && !(SECRET_TYPES as readonly string[]).includes(value)) {
    out.push(`secret_type "${value}" must be one of ${SECRET_TYPES.join(", ")}`);
  }
  if (key === "rotation_period") {
    let seconds = -1;
    try {
      seconds = parseDuration(value);
    } catch { /* reported below */ }
    if (seconds <= 0) {
      out.push(`rotation_period "${value}" must be a positive duration`);
    }
  }
  return out;
}

/** Every problem with a complete map; also run on the result of a PATCH merge. */
export function customMetadataProblems(map: Record<string, string>): string[] {
  const n = Object.keys(map).length;
  // Checked first and alone, as Vault does, so a huge payload is not scanned entry by entry.
  if (n > MAX_KEYS) {
    return [`payload must contain at most ${MAX_KEYS} keys, provided ${n}`];
  }
  return Object.entries(map).flatMap(([k, val]) => entryProblems(k, val));
}

/**
 * Vault's TypeMap then WeakDecode to strings: numbers and booleans become strings, and the map
 * may arrive as a JSON string (form bodies). `null` values survive only for PATCH, where they
 * delete a key.
 */
function coerce(raw: unknown, allowNullValues: boolean): Record<string, string | null> | string {
  let obj = raw;
  if (typeof raw === "string") {
    if (raw.trim() === "") return {};
    try {
      obj = JSON.parse(raw);
    } catch {
      return `must be a map of strings`;
    }
  }
  if (!isPlainObject(obj)) return `must be a map of strings`;
  const out: Record<string, string | null> = {};
  for (const [k, val] of Object.entries(obj)) {
    let s: string | null;
    if (typeof val === "string") s = val;
    else if (typeof val === "number" || typeof val === "boolean") s = String(val);
    else if (val === null && allowNullValues) s = null;
    else return `value for key "${k}" must be a string`;
    Object.defineProperty(out, k, {
      value: s,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** For writes: the complete new map; null or "" clears it. */
export const customMetadataWrite = v.pipe(
  v.unknown(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    if (dataset.value === null) return {} as Record<string, string>;
    const map = coerce(dataset.value, false);
    if (typeof map === "string") {
      addIssue({ message: map });
      return NEVER;
    }
    const problems = customMetadataProblems(map as Record<string, string>);
    for (const message of problems) addIssue({ message });
    return problems.length ? NEVER : map as Record<string, string>;
  }),
);

/**
 * For PATCH: a merge patch of the map (null deletes a key; a null map clears it). Entries are
 * checked here; the key count can only be checked after merging, by the handler.
 */
export const customMetadataPatch = v.pipe(
  v.unknown(),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    if (dataset.value === null) return null;
    const map = coerce(dataset.value, true);
    if (typeof map === "string") {
      addIssue({ message: map });
      return NEVER;
    }
    const problems = Object.entries(map).flatMap(([k, val]) =>
      val === null ? [] : entryProblems(k, val)
    );
    for (const message of problems) addIssue({ message });
    return problems.length ? NEVER : map;
  }),
);
