/**
 * The token settings Vault's auth methods share (`token_policies`, `token_ttl`, …): one schema
 * fragment, one merge rule, one read view and one login grant, so AppRole, JWT and userpass
 * answer alike.
 *
 * `tokenParamSchemas` holds every field of Vault's tokenutil and their legacy names, and every
 * method that takes them applies each one at login (`tokenParamsGrant`): a field accepted and
 * then ignored is a restriction silently dropped.
 */
import { BadRequest } from "../../lib/errors.ts";
import * as fields from "../../lib/fields.ts";
import { v } from "../../lib/fields.ts";
import { type Cidr, parseCidr } from "../../lib/cidr.ts";
import type { LoginGrant } from "./types.ts";

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

function contains(o: Cidr, c: Cidr): boolean {
  return o.v6 === c.v6 && c.mask >= o.mask && (c.net & o.mask) === o.net;
}

/** True when every block of `inner` lies inside some block of `outer` (empty outer = anything). */
export function cidrsWithin(inner: readonly string[], outer: readonly string[]): boolean {
  if (!outer.length) return true;
  const os = outer.map(parseCidr);
  return inner.map(parseCidr).every((c) => os.some((o) => contains(o, c)));
}

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

/**
 * Current names only. Vault's read shows a legacy name (`policies`, `period`, …) only for a value
 * written under it, and a record here does not keep which name was used: showing both would make
 * a read written back send both names.
 */
export function tokenSettingsView(t: TokenSettings): Record<string, unknown> {
  return {
    token_policies: t.token_policies,
    token_ttl: t.token_ttl,
    token_max_ttl: t.token_max_ttl,
    token_bound_cidrs: t.token_bound_cidrs,
    token_type: "default",
  };
}

/** SecretHub has no periodic tokens: a period is refused rather than stored and ignored. */
const noPeriod = v.pipe(fields.duration, v.value(0, "periodic tokens are not supported"));

/** Spread into a `v.object({...})`: every token field of Vault's tokenutil.AddTokenFields. */
export const tokenParamSchemas = {
  /** Lowercased, trimmed, deduplicated and sorted, as Vault stores a role's policies. */
  token_policies: v.optional(fields.policyList),
  /** Legacy name for token_policies. */
  policies: v.optional(fields.policyList),
  token_ttl: v.optional(fields.duration),
  token_max_ttl: v.optional(fields.duration),
  token_bound_cidrs: v.optional(cidrList),
  /** Legacy name for token_ttl. */
  ttl: v.optional(fields.duration),
  /** Legacy name for token_max_ttl. */
  max_ttl: v.optional(fields.duration),
  token_explicit_max_ttl: v.optional(fields.duration),
  token_num_uses: v.optional(fields.nonNegInt),
  /** Legacy name for token_num_uses. */
  num_uses: v.optional(fields.nonNegInt),
  token_no_default_policy: v.optional(fields.bool),
  /** Legacy name for token_bound_cidrs. */
  bound_cidrs: v.optional(cidrList),
  token_period: v.optional(noPeriod),
  /** Legacy name for token_period. */
  period: v.optional(noPeriod),
  token_type: v.optional(
    v.picklist(["default", "service"], "only service tokens are supported"),
  ),
};

export interface TokenParamsInput extends TokenFieldsInput {
  ttl?: number;
  max_ttl?: number;
  token_explicit_max_ttl?: number;
  token_num_uses?: number;
  num_uses?: number;
  token_no_default_policy?: boolean;
  bound_cidrs?: string[];
  token_period?: number;
  period?: number;
}

export interface TokenParams extends TokenSettings {
  /** Seconds; 0 = none. */
  token_explicit_max_ttl: number;
  /** 0 = unlimited. */
  token_num_uses: number;
  token_no_default_policy: boolean;
}

export const NO_TOKEN_PARAMS: TokenParams = {
  ...NO_TOKEN_SETTINGS,
  token_explicit_max_ttl: 0,
  token_num_uses: 0,
  token_no_default_policy: false,
};

/** Legacy name → current name, as Vault's tokenutil.UpgradeValue pairs them. */
const LEGACY_NAMES = [
  ["policies", "token_policies"],
  ["ttl", "token_ttl"],
  ["max_ttl", "token_max_ttl"],
  ["num_uses", "token_num_uses"],
  ["bound_cidrs", "token_bound_cidrs"],
  ["period", "token_period"],
] as const;

/** Parsed values compared as stored: lists as sets (policies already come sorted). */
function sameValue(a: number | string[], b: number | string[]): boolean {
  if (!Array.isArray(a) || !Array.isArray(b)) return a === b;
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return x.length === y.length && x.every((s, i) => s === y[i]);
}

/**
 * Applies the fields present in `d` over `prev` (a record stored before a field existed may lack
 * it: it takes the default). A legacy name counts when its current name is absent. Both names
 * with different values is a 400, as in Vault; with equal values (as earlier versions' reads
 * showed them, so a client writing a read back sends both) they are one value.
 */
export function mergeTokenParams(prev: Partial<TokenParams>, d: TokenParamsInput): TokenParams {
  for (const [legacy, current] of LEGACY_NAMES) {
    const old = d[legacy];
    const now = d[current];
    if (old !== undefined && now !== undefined && !sameValue(old, now)) {
      throw new BadRequest(`Cannot specify both "${legacy}" and "${current}"`);
    }
  }
  const base = { ...NO_TOKEN_PARAMS, ...prev };
  const next: TokenParams = {
    token_policies: d.token_policies ?? d.policies ?? base.token_policies,
    token_ttl: d.token_ttl ?? d.ttl ?? base.token_ttl,
    token_max_ttl: d.token_max_ttl ?? d.max_ttl ?? base.token_max_ttl,
    token_explicit_max_ttl: d.token_explicit_max_ttl ?? base.token_explicit_max_ttl,
    token_num_uses: d.token_num_uses ?? d.num_uses ?? base.token_num_uses,
    token_no_default_policy: d.token_no_default_policy ?? base.token_no_default_policy,
    token_bound_cidrs: d.token_bound_cidrs ?? d.bound_cidrs ?? base.token_bound_cidrs,
  };
  if (next.token_max_ttl > 0 && next.token_ttl > next.token_max_ttl) {
    throw new BadRequest(`"token_ttl" value must be less than "token_max_ttl"`);
  }
  // Its logins would be refused (auth methods cannot create root or wrapping tokens): say so at
  // the write.
  for (const reserved of ["root", fields.RESPONSE_WRAPPING_POLICY]) {
    if (next.token_policies.some((p) => fields.policyName(p) === reserved)) {
      throw new BadRequest(`the "${reserved}" policy cannot be given to tokens of an auth method`);
    }
  }
  return next;
}

/** Vault's PopulateTokenData for a record none of whose values was written under a legacy name. */
export function tokenParamsView(t: TokenParams): Record<string, unknown> {
  return {
    ...tokenSettingsView(t),
    token_explicit_max_ttl: t.token_explicit_max_ttl,
    token_num_uses: t.token_num_uses,
    token_no_default_policy: t.token_no_default_policy,
    token_period: 0,
  };
}

/** The tighter of token_max_ttl and token_explicit_max_ttl (0 = neither is set). */
/**
 * The policies a login under `t` gets, as core's #issueLoginToken grants them: the record's,
 * `default` too unless it is left out; sanitized and sorted.
 */
export function grantedPolicies(t: TokenParams): string[] {
  return fields.sanitizePolicies(
    t.token_no_default_policy ? t.token_policies : [...t.token_policies, "default"],
  );
}

export function tokenParamsMaxTtl(t: TokenParams): number {
  const caps = [t.token_max_ttl, t.token_explicit_max_ttl].filter((x) => x > 0);
  return caps.length ? Math.min(...caps) : 0;
}

/** The part of a login's grant the params decide. */
export function tokenParamsGrant(
  t: TokenParams,
): Omit<LoginGrant, "role" | "metadata" | "displayName"> {
  return {
    policies: t.token_policies,
    ttl: t.token_ttl,
    maxTtl: t.token_max_ttl,
    explicitMaxTtl: t.token_explicit_max_ttl,
    numUses: t.token_num_uses,
    boundCidrs: t.token_bound_cidrs,
    noDefaultPolicy: t.token_no_default_policy,
  };
}
