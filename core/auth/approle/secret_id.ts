/** Secret-id records: what is stored (never the secret-id itself) and how lookups show it. */
import { BadRequest } from "../../../lib/errors.ts";
import { rfc3339 } from "../../../engines/sdk.ts";
import { cidrsWithin } from "../token_fields.ts";
import type { Role } from "./role.ts";
import type { SecretIdOptions } from "./schemas.ts";

export interface SecretIdEntry {
  /** HMAC of the secret-id; the storage key repeats it, this copy is compared in constant time. */
  hmac: string;
  accessor: string;
  /** Milliseconds since the epoch. */
  creation_time: number;
  /** Milliseconds; 0 = never expires. */
  expiration_time: number;
  last_updated_time: number;
  /** Uses left; 0 = unlimited (a limited entry is deleted when it reaches zero). */
  num_uses: number;
  ttl: number;
  cidr_list: string[];
  token_bound_cidrs: string[];
  metadata: Record<string, string>;
}

/** A new entry for `role`, with Vault's rules: a secret-id may narrow its role, never widen it. */
export function newEntry(
  role: Role,
  o: SecretIdOptions,
  hmac: string,
  accessor: string,
  now: number,
): SecretIdEntry {
  const ttl = o.ttl || role.secret_id_ttl;
  if (role.secret_id_ttl > 0 && ttl > role.secret_id_ttl) {
    throw new BadRequest("ttl cannot be longer than the role's secret_id_ttl");
  }
  const numUses = o.num_uses ?? role.secret_id_num_uses;
  if (role.secret_id_num_uses > 0 && (numUses === 0 || numUses > role.secret_id_num_uses)) {
    throw new BadRequest("num_uses cannot be higher than the role's secret_id_num_uses");
  }
  const cidrList = o.cidr_list ?? [];
  if (!cidrsWithin(cidrList, role.secret_id_bound_cidrs)) {
    throw new BadRequest("cidr_list must be a subset of the role's secret_id_bound_cidrs");
  }
  const tokenCidrs = o.token_bound_cidrs ?? [];
  if (!cidrsWithin(tokenCidrs, role.token_bound_cidrs)) {
    throw new BadRequest("token_bound_cidrs must be a subset of the role's token_bound_cidrs");
  }
  return {
    hmac,
    accessor,
    creation_time: now,
    expiration_time: ttl > 0 ? now + ttl * 1000 : 0,
    last_updated_time: now,
    num_uses: numUses,
    ttl,
    cidr_list: cidrList,
    token_bound_cidrs: tokenCidrs,
    metadata: o.metadata ?? {},
  };
}

export function isExpired(e: SecretIdEntry, now: number): boolean {
  return e.expiration_time > 0 && now >= e.expiration_time;
}

/** Go's zero time, which Vault prints for a secret-id that never expires. */
const ZERO_TIME = "0001-01-01T00:00:00Z";

/** Vault's lookup shape. The secret-id is not stored, so it cannot leak from here. */
export function entryView(e: SecretIdEntry): Record<string, unknown> {
  return {
    cidr_list: e.cidr_list,
    creation_time: rfc3339(e.creation_time),
    expiration_time: e.expiration_time ? rfc3339(e.expiration_time) : ZERO_TIME,
    last_updated_time: rfc3339(e.last_updated_time),
    metadata: e.metadata,
    secret_id_accessor: e.accessor,
    secret_id_num_uses: e.num_uses,
    secret_id_ttl: e.ttl,
    token_bound_cidrs: e.token_bound_cidrs,
  };
}
