/** The AppRole role record: defaults, how a write changes it, and how a read shows it. */
import { BadRequest } from "../../../lib/errors.ts";
import { uuid } from "../../../lib/crypto.ts";
import { quoted } from "../../../lib/fields.ts";
import {
  mergeTokenParams,
  NO_TOKEN_PARAMS,
  type TokenParams,
  tokenParamsView,
} from "../token_fields.ts";
import type { RoleWrite } from "./schemas.ts";

/** Roles have stored every token param from the start: none needs a default when read. */
export interface Role extends TokenParams {
  name: string;
  role_id: string;
  bind_secret_id: boolean;
  secret_id_bound_cidrs: string[];
  /** 0 = unlimited. */
  secret_id_num_uses: number;
  /** Seconds; 0 = secret-ids never expire. */
  secret_id_ttl: number;
  local_secret_ids: boolean;
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
    ...NO_TOKEN_PARAMS,
  };
}

/** The role after a create (prev = null) or update; only the fields sent change. */
export function applyRoleWrite(prev: Role | null, d: RoleWrite, name: string): Role {
  const base = prev ?? defaults(name);
  const r: Role = { ...base, ...mergeTokenParams(base, d) };
  if (d.role_id !== undefined) r.role_id = d.role_id;
  if (d.bind_secret_id !== undefined) r.bind_secret_id = d.bind_secret_id;
  const secretCidrs = d.secret_id_bound_cidrs ?? d.bound_cidr_list;
  if (secretCidrs !== undefined) r.secret_id_bound_cidrs = secretCidrs;
  if (d.secret_id_num_uses !== undefined) r.secret_id_num_uses = d.secret_id_num_uses;
  if (d.secret_id_ttl !== undefined) r.secret_id_ttl = d.secret_id_ttl;
  // Vault fixes local_secret_ids at creation: changing it would strand existing secret-ids.
  if (!prev && d.local_secret_ids !== undefined) r.local_secret_ids = d.local_secret_ids;

  // With no secret-id and no CIDR, the role-id alone (not a secret) would be enough to log in.
  if (!r.bind_secret_id && !r.secret_id_bound_cidrs.length && !r.token_bound_cidrs.length) {
    throw new BadRequest("at least one constraint should be enabled on the role");
  }
  return r;
}

/** Vault's read shape: durations in seconds, current field names only (see tokenSettingsView). */
export function roleView(r: Role): Record<string, unknown> {
  return {
    bind_secret_id: r.bind_secret_id,
    local_secret_ids: r.local_secret_ids,
    secret_id_bound_cidrs: r.secret_id_bound_cidrs,
    secret_id_num_uses: r.secret_id_num_uses,
    secret_id_ttl: r.secret_id_ttl,
    ...tokenParamsView(r),
  };
}
