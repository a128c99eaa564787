/** Valibot schemas for every AppRole request body; the core turns a failure into a 400. */
import { parseCidr } from "../../../lib/cidr.ts";
import * as fields from "../../../lib/fields.ts";
import { v } from "../../../lib/fields.ts";
import { tokenParamSchemas } from "../token_fields.ts";

/** A CIDR list, rejected at write time so a typo never silently locks a role out. */
export const cidrList = v.pipe(
  fields.stringList,
  v.rawCheck<string[]>(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    for (const c of dataset.value) {
      try {
        parseCidr(c);
      } catch {
        addIssue({ message: `invalid CIDR ${fields.quoted(c, 64)}` });
      }
    }
  }),
);

/** Role-ids are hashed before storage, so any text works; the cap only bounds the work. */
const roleId = v.pipe(v.string(), v.minLength(1, "must not be empty"), v.maxLength(1024));

const required = (max: number) =>
  v.pipe(v.optional(v.string(), ""), v.minLength(1, "is required"), v.maxLength(max));

/** Loose: a key it has no entry for reaches the handler, which warns that it was ignored. */
export const roleWrite = v.looseObject({
  role_id: v.optional(roleId),
  bind_secret_id: v.optional(fields.bool),
  secret_id_bound_cidrs: v.optional(cidrList),
  /** Legacy name of secret_id_bound_cidrs (not of token_bound_cidrs, whose is bound_cidrs). */
  bound_cidr_list: v.optional(cidrList),
  secret_id_num_uses: v.optional(fields.nonNegInt),
  secret_id_ttl: v.optional(fields.duration),
  local_secret_ids: v.optional(fields.bool),
  ...tokenParamSchemas,
});
export type RoleWrite = v.InferOutput<typeof roleWrite>;

export const roleIdWrite = v.object({ role_id: v.pipe(v.optional(v.string(), ""), roleId) });

/** Secret-id metadata ends up on tokens and in audit entries, so its size is bounded. */
const metadata = v.pipe(
  fields.stringMap,
  v.check((m) => Object.keys(m).length <= 64, "at most 64 keys"),
  v.check(
    (m) => Object.entries(m).every(([k, x]) => k.length <= 128 && x.length <= 512),
    "keys are limited to 128 characters and values to 512",
  ),
);

const secretIdFields = {
  metadata: v.optional(metadata),
  cidr_list: v.optional(cidrList),
  token_bound_cidrs: v.optional(cidrList),
  ttl: v.optional(fields.duration),
  num_uses: v.optional(fields.nonNegInt),
};

export const secretIdGenerate = v.object(secretIdFields);
export const customSecretId = v.object({ ...secretIdFields, secret_id: required(4096) });
export type SecretIdOptions = v.InferOutput<typeof secretIdGenerate>;

export const bySecretId = v.object({ secret_id: required(4096) });
export const byAccessor = v.object({ secret_id_accessor: required(256) });

/** Missing or odd credentials are not a schema error: they fail like any wrong credential. */
const credential = v.optional(v.pipe(v.string(), v.maxLength(4096)), "");
export const login = v.object({ role_id: credential, secret_id: credential });
