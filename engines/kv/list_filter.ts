/**
 * SecretHub's LIST filters on `metadata/`: `tag`, `service`, `environment` and `secret_type` match
 * the well-known custom_metadata keys (see custom_metadata.ts). Alongside them, Vault's own
 * `after`/`limit` paging.
 */
import { fields, v } from "../sdk.ts";
import { SECRET_TYPES } from "./custom_metadata.ts";

/** Query parameters of a metadata LIST, SecretHub filters plus Vault's after/limit paging. */
export const listQuery = v.looseObject({
  tag: v.optional(fields.stringList),
  service: v.optional(v.string("must be a string")),
  environment: v.optional(v.string("must be a string")),
  // "" is allowed (no filter, as `?tag=` is), so a client can send every parameter blank.
  secret_type: v.optional(
    v.picklist(["", ...SECRET_TYPES], `must be one of ${SECRET_TYPES.join(", ")}`),
  ),
  after: v.optional(v.string("must be a string")),
  limit: v.optional(fields.nonNegInt),
});

export type ListQuery = v.InferOutput<typeof listQuery>;

/**
 * An empty value (`?service=`) filters nothing, as an empty `?tag=` already did: custom_metadata
 * values are never empty, so matching "" exactly would drop every leaf.
 */
function given(x: string | undefined): x is string {
  return x !== undefined && x !== "";
}

export function hasFilter(q: ListQuery): boolean {
  return (q.tag?.length ?? 0) > 0 || given(q.service) || given(q.environment) ||
    given(q.secret_type);
}

/** Exact, case-sensitive matches; `tag` lists must all be present in the key's `tags`. */
export function matchesFilter(custom: Record<string, string> | null, q: ListQuery): boolean {
  const m = custom ?? {};
  if (given(q.service) && m.service !== q.service) return false;
  if (given(q.environment) && m.environment !== q.environment) return false;
  if (given(q.secret_type) && m.secret_type !== q.secret_type) return false;
  if (q.tag?.length) {
    const tags = new Set((m.tags ?? "").split(",").map((t) => t.trim()).filter((t) => t !== ""));
    if (!q.tag.every((t) => tags.has(t))) return false;
  }
  return true;
}
