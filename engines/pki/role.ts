/**
 * Roles: which names a certificate may carry, for how long, with which key and usages. Stored
 * fully resolved (defaults filled in), so issuance never re-derives them.
 */
import { BadRequest, fields, v } from "../sdk.ts";
import { checkOid, extKeyUsageOid, keyUsageBits } from "./extensions.ts";
import { keySpec, type KeyType } from "./keys.ts";
import { NOT_AFTER_BEHAVIORS, type NotAfterBehavior } from "./leaf.ts";

export interface RoleRecord {
  ttl: number;
  max_ttl: number;
  not_before_duration: number;
  allowed_domains: string[];
  allow_localhost: boolean;
  allow_bare_domains: boolean;
  allow_subdomains: boolean;
  allow_glob_domains: boolean;
  allow_wildcard_certificates: boolean;
  allow_any_name: boolean;
  enforce_hostnames: boolean;
  allow_ip_sans: boolean;
  allowed_uri_sans: string[];
  server_flag: boolean;
  client_flag: boolean;
  code_signing_flag: boolean;
  email_protection_flag: boolean;
  key_type: KeyType | "any";
  key_bits: number;
  key_usage: string[];
  ext_key_usage: string[];
  ext_key_usage_oids: string[];
  use_csr_common_name: boolean;
  use_csr_sans: boolean;
  require_cn: boolean;
  organization: string[];
  ou: string[];
  country: string[];
  locality: string[];
  province: string[];
  street_address: string[];
  postal_code: string[];
  no_store: boolean;
  generate_lease: boolean;
  /**
   * A certificate that would outlive the CA. Vault keeps this on the issuer; with one CA per
   * mount SecretHub keeps it on the role, with the issuer's values and default.
   */
  leaf_not_after_behavior: NotAfterBehavior;
}

/** Vault's defaults, except key_type: SecretHub defaults to EC P-256 everywhere. */
export const ROLE_DEFAULTS: RoleRecord = {
  ttl: 0,
  max_ttl: 0,
  not_before_duration: 30,
  allowed_domains: [],
  allow_localhost: true,
  allow_bare_domains: false,
  allow_subdomains: false,
  allow_glob_domains: false,
  allow_wildcard_certificates: true,
  allow_any_name: false,
  enforce_hostnames: true,
  allow_ip_sans: true,
  allowed_uri_sans: [],
  server_flag: true,
  client_flag: true,
  code_signing_flag: false,
  email_protection_flag: false,
  key_type: "ec",
  key_bits: 0,
  key_usage: ["DigitalSignature", "KeyAgreement", "KeyEncipherment"],
  ext_key_usage: [],
  ext_key_usage_oids: [],
  use_csr_common_name: true,
  use_csr_sans: true,
  require_cn: true,
  organization: [],
  ou: [],
  country: [],
  locality: [],
  province: [],
  street_address: [],
  postal_code: [],
  no_store: false,
  generate_lease: false,
  leaf_not_after_behavior: "err",
};

const opt = v.optional;

/** Subject name attributes a role or a CA request may set. */
export const subjectNameEntries = {
  organization: opt(fields.stringList),
  ou: opt(fields.stringList),
  country: opt(fields.stringList),
  locality: opt(fields.stringList),
  province: opt(fields.stringList),
  street_address: opt(fields.stringList),
  postal_code: opt(fields.stringList),
};

export const roleInput = v.looseObject({
  ttl: opt(fields.duration),
  max_ttl: opt(fields.duration),
  not_before_duration: opt(fields.duration),
  allowed_domains: opt(fields.stringList),
  allow_localhost: opt(fields.bool),
  allow_bare_domains: opt(fields.bool),
  allow_subdomains: opt(fields.bool),
  allow_glob_domains: opt(fields.bool),
  allow_wildcard_certificates: opt(fields.bool),
  allow_any_name: opt(fields.bool),
  enforce_hostnames: opt(fields.bool),
  allow_ip_sans: opt(fields.bool),
  allowed_uri_sans: opt(fields.stringList),
  server_flag: opt(fields.bool),
  client_flag: opt(fields.bool),
  code_signing_flag: opt(fields.bool),
  email_protection_flag: opt(fields.bool),
  key_type: opt(
    v.picklist(["ec", "rsa", "ed25519", "any"], 'must be "ec", "rsa", "ed25519" or "any"'),
  ),
  key_bits: opt(fields.nonNegInt),
  key_usage: opt(fields.stringList),
  ext_key_usage: opt(fields.stringList),
  ext_key_usage_oids: opt(fields.stringList),
  use_csr_common_name: opt(fields.bool),
  use_csr_sans: opt(fields.bool),
  require_cn: opt(fields.bool),
  ...subjectNameEntries,
  no_store: opt(fields.bool),
  generate_lease: opt(fields.bool),
  leaf_not_after_behavior: opt(
    v.picklist(NOT_AFTER_BEHAVIORS, 'must be "err", "truncate" or "permit"'),
  ),
});

export type RoleInput = v.InferOutput<typeof roleInput>;

/** `base` overlaid with the fields present in `input`, then checked as a whole. */
export function buildRole(base: RoleRecord, input: RoleInput): RoleRecord {
  const role = { ...base };
  for (const k of Object.keys(ROLE_DEFAULTS) as (keyof RoleRecord)[]) {
    const x = input[k];
    if (x !== undefined) (role as Record<string, unknown>)[k] = x;
  }
  // A type change without new bits means "the new type's default size".
  if (input.key_type !== undefined && input.key_bits === undefined) role.key_bits = 0;
  if (role.key_type === "any") role.key_bits = 0;
  else role.key_bits = keySpec(role.key_type, role.key_bits).bits;
  if (role.ttl && role.max_ttl && role.ttl > role.max_ttl) {
    throw new BadRequest('"ttl" value must be less than "max_ttl" value');
  }
  keyUsageBits(role.key_usage);
  role.ext_key_usage.forEach(extKeyUsageOid);
  for (const o of role.ext_key_usage_oids) checkOid(o, "ext_key_usage_oids");
  return role;
}

const NAME = /^\w([\w.-]*\w)?$/;

export function checkRoleName(name: string): string {
  if (name.length > 128 || !NAME.test(name)) {
    throw new BadRequest(`invalid role name ${fields.quoted(name)}`);
  }
  return name;
}
