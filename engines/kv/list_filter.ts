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
  secret_type: v.optional(
    v.picklist(SECRET_TYPES, `must be one of ${SECRET_TYPES.join(", ")}`),
  ),
  after: v.optional(v.string("must be a string")),
  limit: v.optional(fields.nonNegInt),
});

export type ListQuery = v.InferOutput<typeof listQuery>;

export function hasFilter(q: ListQuery): boolean {
  return (q.tag?.length ?? 0) > 0 || q.service !== undefined || q.environment !== undefined ||
    q.secret_type !== undefined;
}

/** Exact, case-sensitive matches; `tag` lists must all be present in the key's `tags`. */
export function matchesFilter(custom: Record<string, string> | null, q: ListQuery): boolean {
  const m = custom ?? {};
  if (q.service !== undefined && m.service !== q.service) return false;
  if (q.environment !== undefined && m.environment !== q.environment) return false;
  if (q.secret_type !== undefined && m.secret_type !== q.secret_type) return false;
  if (q.tag?.length) {
    const tags = new Set((m.tags ?? "").split(",").map((t) => t.trim()).filter((t) => t !== ""));
    if (!q.tag.every((t) => tags.has(t))) return false;
  }
  return true;
}
