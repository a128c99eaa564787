/**
 * Vault's pathLoginRenew for a method whose roles (or users) carry the shared token params
 * (AppRole, userpass): the token is renewed under its record as the record is now, so a narrowed
 * role or user takes effect at the next renewal instead of living on in tokens renewed up to the
 * old cap.
 */
import { BadRequest } from "../../lib/errors.ts";
import { sanitizePolicies } from "../../lib/fields.ts";
import type { RenewingLogin, RenewLimits } from "./types.ts";
import {
  cidrsWithin,
  grantedPolicies,
  type TokenParams,
  tokenParamsMaxTtl,
} from "./token_fields.ts";

/**
 * The limits `record` (null when it is gone; `kind` names it in the error) allows `login` now.
 *
 * @throws BadRequest when the record is gone, would grant other policies than the token holds
 * (`default` counted, as core adds it at login), or binds the token to addresses its CIDRs
 * are not all inside of.
 */
export function tokenParamsRenewal(
  record: TokenParams | null,
  login: RenewingLogin,
  kind: "role" | "user",
): RenewLimits {
  if (!record) throw new BadRequest(`${kind} "${login.role}" does not exist during renewal`);
  const now = grantedPolicies(record);
  const held = sanitizePolicies(login.policies);
  if (now.length !== held.length || now.some((p, i) => p !== held[i])) {
    throw new BadRequest("policies have changed, not renewing");
  }
  // Inside rather than equal: an AppRole secret-id may have bound its tokens more narrowly than
  // the role, and a record widened since still covers the token. A token bound nowhere is
  // inside nothing once the record binds it.
  const bound = record.token_bound_cidrs;
  if (bound.length && (!login.boundCidrs.length || !cidrsWithin(login.boundCidrs, bound))) {
    throw new BadRequest("bound CIDRs have changed, not renewing");
  }
  return { ttl: record.token_ttl, maxTtl: tokenParamsMaxTtl(record) };
}
