/**
 * Valibot schemas for Vault's loosely typed parameters: durations as "1h" or seconds, lists as
 * arrays or comma strings, booleans and integers as strings. Every request body and query goes
 * through a schema built from these, so bad input is a 400 with a message naming the field.
 */
import * as v from "valibot";
import { parseDuration } from "./duration.ts";

export { v };

/**
 * `s` JSON-quoted for an error message, cut to `max` characters. A 400 goes back to the client
 * and into the audit's error field, so a value of megabytes must not be echoed whole.
 */
export function quoted(s: string, max = 32): string {
  return s.length > max ? JSON.stringify(s.slice(0, max)) + "…" : JSON.stringify(s);
}

/** A JSON object: not null and not an array. */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/**
 * `schema` (an object or record schema) refusing arrays first. Valibot's object and record
 * schemas take an array like any object, and an array stored as a map comes back as
 * {"0": …, "1": …}, so `["x"]` where a map belongs must be a 400, as it is in Vault.
 */
export function plainObject<
  T extends v.BaseSchema<Record<string, unknown>, unknown, v.BaseIssue<unknown>>,
>(
  schema: T,
  message = "must be a map",
): v.SchemaWithPipe<
  readonly [v.CustomSchema<Record<string, unknown>, v.ErrorMessage<v.CustomIssue> | undefined>, T]
> {
  return v.pipe(v.custom<Record<string, unknown>>(isPlainObject, message), schema);
}

/** Seconds, from `"1h"`, `3600` or `"3600"`. */
export const duration = v.pipe(
  v.union([v.string(), v.number()], "must be a duration"),
  v.rawTransform<string | number, number>(({ dataset, addIssue, NEVER }) => {
    try {
      return parseDuration(dataset.value);
    } catch {
      addIssue({ message: `invalid duration ${quoted(String(dataset.value))}` });
      return NEVER;
    }
  }),
);

export const bool = v.pipe(
  v.union([v.boolean(), v.string(), v.number()], "must be a boolean"),
  v.rawTransform<boolean | string | number, boolean>(({ dataset, addIssue, NEVER }) => {
    const x = dataset.value;
    if (typeof x === "boolean") return x;
    const s = String(x).toLowerCase();
    if (["true", "1", "t", "yes"].includes(s)) return true;
    if (["false", "0", "f", "no", ""].includes(s)) return false;
    addIssue({ message: `invalid boolean ${quoted(String(x))}` });
    return NEVER;
  }),
);

/** A non-negative safe integer from a number or numeric string. */
export const int = v.pipe(
  v.union([v.number(), v.string()], "must be an integer"),
  v.rawTransform<number | string, number>(({ dataset, addIssue, NEVER }) => {
    const x = dataset.value;
    const n = typeof x === "number" ? x : /^-?\d+$/.test(x.trim()) ? Number(x) : NaN;
    if (!Number.isSafeInteger(n)) {
      addIssue({ message: `invalid integer ${quoted(String(x))}` });
      return NEVER;
    }
    return n;
  }),
);

export const nonNegInt = v.pipe(int, v.minValue(0, "must not be negative"));

/** `["a","b"]` or `"a,b"` → trimmed, non-empty strings. */
export const stringList = v.pipe(
  v.union([v.array(v.string()), v.string()], "must be a list of strings"),
  v.transform((x) =>
    (Array.isArray(x) ? x : x.split(",")).map((s) => s.trim()).filter((s) => s.length > 0)
  ),
  v.maxLength(1000, "too many items"),
);

/**
 * Policy names as Vault's SanitizePolicies leaves them on a token or role: trimmed, lowercased
 * (names are case-insensitive, and the policy store keeps them lowercased), without empties or
 * duplicates, sorted.
 */
/**
 * The policy every response-wrapping token carries. Built in, as in Vault: no stored policy of
 * that name may exist (its rules would reach every wrapping token) and no other token may be
 * given it (Vault's immutablePolicies and nonAssignablePolicies).
 */
export const RESPONSE_WRAPPING_POLICY = "response-wrapping";

/** A policy name as Vault keys it (on policies, tokens and roles): trimmed and lowercased. */
export function policyName(name: string): string {
  return name.trim().toLowerCase();
}

export function sanitizePolicies(list: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of list) {
    const n = policyName(p);
    if (n) out.add(n);
  }
  return [...out].sort();
}

/** A policy-name list (`["a","b"]` or `"a,b"`), sanitized as on a Vault token. */
export const policyList = v.pipe(stringList, v.transform((l: string[]) => sanitizePolicies(l)));

/** A string→string map; some clients send it as a JSON string. */
export const stringMap = v.pipe(
  v.union(
    [plainObject(v.record(v.string(), v.string())), v.string(), v.null()],
    "must be a map of strings",
  ),
  v.rawTransform<Record<string, string> | string | null, Record<string, string>>(
    ({ dataset, addIssue, NEVER }) => {
      const x = dataset.value;
      if (x === null || x === "") return {} as Record<string, string>;
      if (typeof x !== "string") return x;
      try {
        const parsed = JSON.parse(x);
        if (
          isPlainObject(parsed) && Object.values(parsed).every((e) => typeof e === "string")
        ) return parsed as Record<string, string>;
      } catch { /* fall through */ }
      addIssue({ message: "must be a map of strings" });
      return NEVER;
    },
  ),
);

/**
 * Vault's `map[string]string` decoded with weak typing (mapstructure's WeakDecode, as token
 * `meta` is): a string stays, a number becomes its decimal text (`1` → "1") and a boolean "1" or
 * "0"; a nested object, array or null value is refused. Some clients send the whole map as a
 * JSON string, decoded the same way; a null or empty map is {}.
 */
export const weakStringMap = v.pipe(
  v.unknown(),
  v.rawTransform<unknown, Record<string, string>>(({ dataset, addIssue, NEVER }) => {
    let x = dataset.value;
    if (x === null || x === "") return {};
    if (typeof x === "string") {
      try {
        x = JSON.parse(x);
      } catch {
        x = undefined;
      }
    }
    if (!isPlainObject(x)) {
      addIssue({ message: "must be a map of strings" });
      return NEVER;
    }
    const out: [string, string][] = [];
    for (const [k, val] of Object.entries(x)) {
      if (typeof val === "string") out.push([k, val]);
      else if (typeof val === "number" && Number.isFinite(val)) out.push([k, String(val)]);
      else if (typeof val === "boolean") out.push([k, val ? "1" : "0"]);
      else {
        const kind = val === null ? "null" : Array.isArray(val) ? "an array" : "an object";
        addIssue({
          message: `value of ${JSON.stringify(k.slice(0, 100))} must be a string, number or ` +
            `boolean, not ${kind}`,
        });
        return NEVER;
      }
    }
    // fromEntries defines own properties: a "__proto__" key stays a key.
    return Object.fromEntries(out);
  }),
);

/** Parses `input` with `schema`; on failure throws the error produced by `onError`. */
export function parseWith<T extends v.GenericSchema>(
  schema: T,
  input: unknown,
  onError: (message: string) => Error,
): v.InferOutput<T> {
  const r = v.safeParse(schema, input);
  if (r.success) return r.output;
  const msgs = r.issues.map((i) => {
    const key = i.path?.map((p) => String(p.key)).join(".");
    return key ? `${key}: ${i.message}` : i.message;
  });
  throw onError(msgs.join("; "));
}

/**
 * Vault's warning for the keys of `data` that `schema` (a loose object schema, so that they reach
 * the handler) has no entry for, or undefined when there are none: Vault ignores a parameter an
 * endpoint does not know, and says so.
 */
export function ignoredParamsWarning(
  data: Record<string, unknown>,
  schema: v.LooseObjectSchema<v.ObjectEntries, undefined>,
): string[] | undefined {
  const ignored = Object.keys(data).filter((k) => !Object.hasOwn(schema.entries, k)).sort();
  if (!ignored.length) return undefined;
  return [`Endpoint ignored these unrecognized parameters: [${ignored.join(" ")}]`];
}
