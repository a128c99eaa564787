/** The AppRole role record: defaults, how a write changes it, and how a read shows it. */
import { BadRequest } from "../../../lib/errors.ts";
import { uuid } from "../../../lib/crypto.ts";
import { quoted } from "../../../lib/fields.ts";
import type { RoleWrite } from "./schemas.ts";

export interface Role {
  name: string;
  role_id: string;
  bind_secret_id: boolean;
  secret_id_bound_cidrs: string[];
  /** 0 = unlimited. */
  secret_id_num_uses: number;
  /** Seconds; 0 = secret-ids never expire. */
  secret_id_ttl: number;
  local_secret_ids: boolean;
  token_policies: string[];
  token_ttl: number;
  token_max_ttl: number;
  token_explicit_max_ttl: number;
  token_num_uses: number;
  token_no_default_policy: boolean;
  token_bound_cidrs: string[];
}

const NAME_RE = /^[a-zA-Z0-9_.-]{1,128}$/;

/** Role names are case-insensitive, as in Vault (which lowercases them since 1.4). */
export function roleName(param: string): string {
  if (!NAME_RE.test(param)) throw new BadRequest(`invalid role name ${quoted(param, 128)}`);
  return param.toLowerCase();
}

function defaults(name: string): Role {
  return {
    name,
    role_id: uuid(),
    bind_secret_id: true,
    secret_id_bound_cidrs: [],
    secret_id_num_uses: 1,
    secret_id_ttl: 600,
    local_secret_ids: false,
    token_policies: [],
    token_ttl: 0,
    token_max_ttl: 0,
    token_explicit_max_ttl: 0,
    token_num_uses: 0,
    token_no_default_policy: false,
    token_bound_cidrs: [],
  };
}

/** The role after a create (prev = null) or update; only the fields sent change. */
export function applyRoleWrite(prev: Role | null, d: RoleWrite, name: string): Role {
  const r: Role = prev ? { ...prev } : defaults(name);
  if (d.role_id !== undefined) r.role_id = d.role_id;
  if (d.bind_secret_id !== undefined) r.bind_secret_id = d.bind_secret_id;
  const secretCidrs = d.secret_id_bound_cidrs ?? d.bound_cidr_list;
  if (secretCidrs !== undefined) r.secret_id_bound_cidrs = secretCidrs;
  if (d.secret_id_num_uses !== undefined) r.secret_id_num_uses = d.secret_id_num_uses;
  if (d.secret_id_ttl !== undefined) r.secret_id_ttl = d.secret_id_ttl;
  // Vault fixes local_secret_ids at creation: changing it would strand existing secret-ids.
  if (!prev && d.local_secret_ids !== undefined) r.local_secret_ids = d.local_secret_ids;
  const policies = d.token_policies ?? d.policies;
  if (policies !== undefined) r.token_policies = policies;
  if (d.token_ttl !== undefined) r.token_ttl = d.token_ttl;
  if (d.token_max_ttl !== undefined) r.token_max_ttl = d.token_max_ttl;
  if (d.token_explicit_max_ttl !== undefined) r.token_explicit_max_ttl = d.token_explicit_max_ttl;
  if (d.token_num_uses !== undefined) r.token_num_uses = d.token_num_uses;
  if (d.token_no_default_policy !== undefined) {
    r.token_no_default_policy = d.token_no_default_policy;
  }
  if (d.token_bound_cidrs !== undefined) r.token_bound_cidrs = d.token_bound_cidrs;

  // With no secret-id and no CIDR, the role-id alone (not a secret) would be enough to log in.
  if (!r.bind_secret_id && !r.secret_id_bound_cidrs.length && !r.token_bound_cidrs.length) {
    throw new BadRequest("at least one constraint should be enabled on the role");
  }
  if (r.token_max_ttl > 0 && r.token_ttl > r.token_max_ttl) {
    throw new BadRequest('"token_ttl" must not be greater than "token_max_ttl"');
  }
  return r;
}

/** The hard cap handed to the core: the tighter of token_max_ttl and token_explicit_max_ttl. */
export function effectiveMaxTtl(r: Role): number {
  const caps = [r.token_max_ttl, r.token_explicit_max_ttl].filter((x) => x > 0);
  return caps.length ? Math.min(...caps) : 0;
}

/** Vault's read shape: durations in seconds, legacy field names repeated. */
export function roleView(r: Role): Record<string, unknown> {
  return {
    bind_secret_id: r.bind_secret_id,
    local_secret_ids: r.local_secret_ids,
    secret_id_bound_cidrs: r.secret_id_bound_cidrs,
    secret_id_num_uses: r.secret_id_num_uses,
    secret_id_ttl: r.secret_id_ttl,
    token_bound_cidrs: r.token_bound_cidrs,
    token_explicit_max_ttl: r.token_explicit_max_ttl,
    token_max_ttl: r.token_max_ttl,
    token_no_default_policy: r.token_no_default_policy,
    token_num_uses: r.token_num_uses,
    token_period: 0,
    token_policies: r.token_policies,
    token_ttl: r.token_ttl,
    token_type: "default",
    policies: r.token_policies,
    period: 0,
  };
}
