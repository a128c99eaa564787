/**
 * SecretHub's LIST filters on `metadata/`: `tag` (or `tags`), `service`, `environment`,
 * `secret_type`, `description` and `rotation_period` match the well-known custom_metadata keys
 * (see custom_metadata.ts). Alongside them, Vault's own `after`/`limit` paging.
 */
import { parseDuration } from "../../lib/duration.ts";
import { fields, v } from "../sdk.ts";
import { SECRET_TYPES } from "./custom_metadata.ts";

const FILTERS = [
  "tag",
  "tags",
  "service",
  "environment",
  "secret_type",
  "description",
  "rotation_period",
];
/** `list` is the `?list=true` that made this a list. */
const LIST_PARAMS = new Set([...FILTERS, "after", "limit", "list"]);

/**
 * Query parameters of a metadata LIST, SecretHub filters plus Vault's after/limit paging. Any
 * other parameter is a 400: a misspelled filter (`?type=`) must not answer with every key, as if
 * every secret matched it.
 */
export const listQuery = v.pipe(
  v.looseObject({
    tag: v.optional(fields.stringList),
    tags: v.optional(fields.stringList),
    service: v.optional(v.string("must be a string")),
    environment: v.optional(v.string("must be a string")),
    // "" is allowed (no filter, as `?tag=` is), so a client can send every parameter blank.
    secret_type: v.optional(
      v.picklist(["", ...SECRET_TYPES], `must be one of ${SECRET_TYPES.join(", ")}`),
    ),
    /** A case-insensitive substring of the description. */
    description: v.optional(v.string("must be a string")),
    /** The same duration, however written ("720h" finds "30d"); "" filters nothing. */
    rotation_period: v.optional(
      v.union([v.literal(""), fields.duration], "must be a duration"),
    ),
    after: v.optional(v.string("must be a string")),
    limit: v.optional(fields.nonNegInt),
  }),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    for (const k of Object.keys(dataset.value)) {
      if (LIST_PARAMS.has(k)) continue;
      addIssue({
        message: `unknown list parameter ${fields.quoted(k)}: the filters are ${
          FILTERS.join(", ")
        }`,
      });
      return;
    }
  }),
);

export type ListQuery = v.InferOutput<typeof listQuery>;

/**
 * An empty value (`?service=`) filters nothing, as an empty `?tag=` already did: custom_metadata
 * values are never empty, so matching "" exactly would drop every leaf.
 */
function given(x: string | undefined): x is string {
  return x !== undefined && x !== "";
}

/** `tag` and `tags` together: every tag named in either. */
function tagsOf(q: ListQuery): string[] {
  return [...(q.tag ?? []), ...(q.tags ?? [])];
}

function rotationGiven(q: ListQuery): q is ListQuery & { rotation_period: number } {
  return typeof q.rotation_period === "number";
}

export function hasFilter(q: ListQuery): boolean {
  return tagsOf(q).length > 0 || given(q.service) || given(q.environment) ||
    given(q.secret_type) || given(q.description) || rotationGiven(q);
}

/**
 * Exact, case-sensitive matches (description: a case-insensitive substring; rotation_period: the
 * same duration); every tag asked for must be in the key's `tags`.
 */
export function matchesFilter(custom: Record<string, string> | null, q: ListQuery): boolean {
  const m = custom ?? {};
  if (given(q.service) && m.service !== q.service) return false;
  if (given(q.environment) && m.environment !== q.environment) return false;
  if (given(q.secret_type) && m.secret_type !== q.secret_type) return false;
  if (
    given(q.description) &&
    !(m.description ?? "").toLowerCase().includes(q.description.toLowerCase())
  ) return false;
  if (rotationGiven(q) && secondsOf(m.rotation_period) !== q.rotation_period) return false;
  const wanted = tagsOf(q);
  if (wanted.length) {
    const tags = new Set((m.tags ?? "").split(",").map((t) => t.trim()).filter((t) => t !== ""));
    if (!wanted.every((t) => tags.has(t))) return false;
  }
  return true;
}

/** A stored rotation_period in seconds; one that does not parse matches no filter. */
function secondsOf(period: string | undefined): number {
  if (period === undefined) return -1;
  try {
    return parseDuration(period);
  } catch {
    return -1;
  }
}
