/** Input schemas (valibot) and name rules for the database engine's paths. */
import { BadRequest, fields, v } from "../sdk.ts";

const opt = v.optional;

/** Vault's `framework.GenericNameRegex`: word characters, with "-" and "." inside. */
const NAME = /^\w(?:[\w.-]*\w)?$/;

export function checkName(kind: string, name: string): string {
  if (!NAME.test(name) || name.length > 128) throw new BadRequest(`invalid ${kind} name "${name}"`);
  return name;
}

/** Options SecretHub does not implement: refused rather than silently ignored when set. */
const unsupported = (field: string) =>
  opt(
    v.pipe(
      v.string(),
      v.check((s) => s === "", `${field} is not supported`),
    ),
  );

/** A string (one statement block) or a list of them; blank entries dropped. */
const statements = v.pipe(
  v.union([v.array(v.string()), v.string()], "must be a string or a list of strings"),
  v.transform((x) => (Array.isArray(x) ? x : [x]).filter((s) => s.trim() !== "")),
  v.maxLength(1000, "too many statements"),
);

export const configInput = v.object({
  plugin_name: opt(v.string("must be a string")),
  plugin_version: opt(v.string("must be a string")),
  connection_url: opt(v.pipe(v.string("must be a string"), v.maxLength(4096, "too long"))),
  username: opt(v.pipe(v.string("must be a string"), v.maxLength(1024, "too long"))),
  password: opt(v.pipe(v.string("must be a string"), v.maxLength(1024, "too long"))),
  allowed_roles: opt(fields.stringList),
  verify_connection: opt(fields.bool),
  max_open_connections: opt(v.pipe(fields.int, v.minValue(1, "must be at least 1"))),
  max_idle_connections: opt(fields.nonNegInt),
  max_connection_lifetime: opt(fields.duration),
  password_authentication: opt(
    v.picklist(["password", "scram-sha-256"], 'must be "password" or "scram-sha-256"'),
  ),
  root_rotation_statements: opt(statements),
  username_template: unsupported("username_template"),
  password_policy: unsupported("password_policy"),
});
export type ConfigInput = v.InferOutput<typeof configInput>;

export const roleInput = v.object({
  db_name: opt(v.pipe(v.string("must be a string"), v.maxLength(128, "too long"))),
  default_ttl: opt(fields.duration),
  max_ttl: opt(fields.duration),
  creation_statements: opt(statements),
  revocation_statements: opt(statements),
  rollback_statements: opt(statements),
  renew_statements: opt(statements),
  credential_type: opt(v.literal("password", 'only "password" is supported')),
});
export type RoleInput = v.InferOutput<typeof roleInput>;

/** Vault's `StrListContainsGlob`: "*" anywhere in an entry matches any run of characters. */
export function roleAllowed(allowed: string[], role: string): boolean {
  return allowed.some((pattern) => {
    if (pattern === "*" || pattern === role) return true;
    if (!pattern.includes("*")) return false;
    const re = pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*");
    return new RegExp(`^${re}$`).test(role);
  });
}
