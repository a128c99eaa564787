/**
 * Input schemas shared by several KV paths. Everything a client sends is checked here, before a
 * handler runs, so malformed input is a 400 naming the field and never reaches storage as a 500.
 */
import { fields, parseDuration, v } from "../sdk.ts";
import { isPlainObject } from "./merge_patch.ts";

/** Far above any sane secret; bounds the cost of JSON handling per version. */
export const MAX_DATA_KEYS = 1000;

/** Caps a single delete/undelete/destroy call; a key never holds more live versions than this. */
const MAX_VERSIONS_PER_CALL = 1000;

export const secretData = v.pipe(
  v.custom<Record<string, unknown>>(isPlainObject, "must be a JSON object"),
  v.check(
    (d) => Object.keys(d).length <= MAX_DATA_KEYS,
    `must have at most ${MAX_DATA_KEYS} keys`,
  ),
);

/** `options: {cas}`; a null `options` or `cas` is treated as absent. */
export const writeOptions = v.optional(
  v.nullable(
    fields.plainObject(
      v.looseObject({ cas: v.optional(v.nullable(fields.nonNegInt)) }, "must be an object"),
      "must be an object",
    ),
  ),
);

/** Body of a data write or patch; Vault's own wording when `data` is missing. */
/** A data/ write's fields (loose: unknown ones reach the handler, which warns about them). */
export const dataBodyFields = v.looseObject({
  data: v.optional(secretData),
  options: writeOptions,
});

export const dataBody = v.pipe(
  dataBodyFields,
  v.check((b) => b.data !== undefined, "no data provided"),
);

/**
 * A non-negative integer from the query string, where an empty value (`?version=`) is 0, as
 * Vault's TypeInt parses "" (so `?version=` reads the latest version instead of a 400).
 */
export const queryInt = v.pipe(
  v.unknown(),
  v.transform((x) => x === "" ? 0 : x),
  fields.nonNegInt,
);

/** `?version=N` on reads; 0, empty or absent means the current version. */
export const versionQuery = v.looseObject({ version: v.optional(queryInt) });

/** Vault's TypeCommaIntSlice: `[1,2]`, `["1","2"]`, `"1,2"` or `1`; every entry a positive int. */
export const versionList = v.pipe(
  v.union(
    [v.array(v.union([v.number(), v.string()])), v.string(), v.number()],
    "must be a list of version numbers",
  ),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const raw = dataset.value;
    const items = Array.isArray(raw)
      ? raw
      : typeof raw === "string"
      ? raw.split(",").map((s) => s.trim()).filter((s) => s !== "")
      : [raw];
    if (items.length > MAX_VERSIONS_PER_CALL) {
      addIssue({ message: `at most ${MAX_VERSIONS_PER_CALL} versions per call` });
      return NEVER;
    }
    const out = new Set<number>();
    for (const item of items) {
      const n = typeof item === "number" ? item : /^\d+$/.test(item.trim()) ? Number(item) : NaN;
      if (!Number.isSafeInteger(n) || n < 1) {
        addIssue({ message: `invalid version "${String(item)}": must be a positive integer` });
        return NEVER;
      }
      out.add(n);
    }
    return [...out];
  }),
);

/** Body of delete/undelete/destroy. An empty list is rejected by the handler with Vault's text. */
export const versionsBody = v.looseObject({ versions: v.optional(versionList, []) });

/**
 * Vault's TypeSignedDurationSecond, used only by the mount config where a negative
 * delete_version_after disables the feature for every key.
 */
export const signedDuration = v.pipe(
  v.union([v.string(), v.number()], "must be a duration"),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const x = dataset.value;
    try {
      if (typeof x === "number") return x < 0 ? -parseDuration(-x) : parseDuration(x);
      const s = x.trim();
      return s.startsWith("-") ? -parseDuration(s.slice(1)) : parseDuration(s);
    } catch {
      addIssue({ message: `invalid duration "${String(x)}"` });
      return NEVER;
    }
  }),
);
