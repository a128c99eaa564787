/** Request bodies of the apps/ routes. */
import * as fields from "../../lib/fields.ts";
import { v } from "../../lib/fields.ts";

const name = v.pipe(
  v.string("must be a string"),
  v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "must be 1-128 letters, digits, '.', '_' or '-'"),
);
const text = (max: number) => v.pipe(v.string("must be a string"), v.maxLength(max, "is too long"));
const policies = v.pipe(
  fields.policyList,
  v.check((ps) => !ps.includes("root"), 'the "root" policy cannot be given to an application'),
);
const paths = v.pipe(
  fields.stringList,
  v.check((ps) => ps.every((p) => p.length <= 512), "entries must be at most 512 characters"),
);

export const registerInput = v.object({
  name,
  description: v.optional(text(1024)),
  owner: v.optional(text(256)),
  policies: v.optional(policies),
  allowed_paths: v.optional(paths),
});

export const updateInput = v.object({
  name: v.optional(name),
  description: v.optional(text(1024)),
  owner: v.optional(text(256)),
  policies: v.optional(policies),
  allowed_paths: v.optional(paths),
});

export const tokenInput = v.object({
  ttl: v.optional(fields.duration),
  num_uses: v.optional(fields.nonNegInt),
});

/** Vault's secret-id TTL habits: short by default, never more than a day. */
export const BOOTSTRAP_DEFAULT_TTL = 15 * 60;
export const BOOTSTRAP_MAX_TTL = 24 * 3600;

export const bootstrapInput = v.object({
  ttl: v.optional(
    v.pipe(
      fields.duration,
      v.minValue(1, "must be positive"),
      v.maxValue(BOOTSTRAP_MAX_TTL, "must be at most 24h"),
    ),
  ),
});
