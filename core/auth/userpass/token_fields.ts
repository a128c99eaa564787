/**
 * The token settings Vault's auth methods share (`token_policies`, `token_ttl`, …): one schema
 * fragment, one merge rule and one read view, so userpass and JWT answer alike.
 * Candidate for core/auth/ once a third method (AppRole) wants it.
 */
import { BadRequest } from "../../../lib/errors.ts";
import * as fields from "../../../lib/fields.ts";
import { v } from "../../../lib/fields.ts";
import { parseCidr } from "../../../lib/cidr.ts";

function isCidr(s: string): boolean {
  try {
    parseCidr(s);
    return true;
  } catch {
    return false;
  }
}

export const cidrList = v.pipe(
  fields.stringList,
  v.check((l) => l.every(isCidr), "must be a list of CIDR blocks or addresses"),
);

/** Spread into a `v.object({...})` for role/user writes. */
export const tokenFieldSchemas = {
  /** Lowercased, trimmed, deduplicated and sorted, as Vault stores a role's policies. */
  token_policies: v.optional(fields.policyList),
  /** Legacy name for token_policies. */
  policies: v.optional(fields.policyList),
  token_ttl: v.optional(fields.duration),
  token_max_ttl: v.optional(fields.duration),
  token_bound_cidrs: v.optional(cidrList),
};

export interface TokenFieldsInput {
  token_policies?: string[];
  policies?: string[];
  token_ttl?: number;
  token_max_ttl?: number;
  token_bound_cidrs?: string[];
}

export interface TokenSettings {
  token_policies: string[];
  token_ttl: number;
  token_max_ttl: number;
  token_bound_cidrs: string[];
}

export const NO_TOKEN_SETTINGS: TokenSettings = {
  token_policies: [],
  token_ttl: 0,
  token_max_ttl: 0,
  token_bound_cidrs: [],
};

/** Applies the fields present in `d` over `prev`; `token_policies` wins over legacy `policies`. */
export function mergeTokenSettings(prev: TokenSettings, d: TokenFieldsInput): TokenSettings {
  const next: TokenSettings = {
    token_policies: d.token_policies ?? d.policies ?? prev.token_policies,
    token_ttl: d.token_ttl ?? prev.token_ttl,
    token_max_ttl: d.token_max_ttl ?? prev.token_max_ttl,
    token_bound_cidrs: d.token_bound_cidrs ?? prev.token_bound_cidrs,
  };
  if (next.token_max_ttl > 0 && next.token_ttl > next.token_max_ttl) {
    throw new BadRequest(`"token_ttl" value must be less than "token_max_ttl"`);
  }
  return next;
}

export function tokenSettingsView(t: TokenSettings): Record<string, unknown> {
  return {
    token_policies: t.token_policies,
    policies: t.token_policies,
    token_ttl: t.token_ttl,
    token_max_ttl: t.token_max_ttl,
    token_bound_cidrs: t.token_bound_cidrs,
    token_type: "default",
  };
}
