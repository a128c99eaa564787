/**
 * Vault's JWT pathLoginRenew: a token is renewed under its role as the role is now. Like
 * Vault's AppRole and userpass (its JWT method only reloads the TTLs), a role that no longer
 * grants what the token holds refuses the renewal, so a narrowed role takes effect at the next
 * renewal instead of living on in tokens renewed up to the old cap.
 */
import { BadRequest } from "../../../lib/errors.ts";
import { sanitizePolicies } from "../../../lib/fields.ts";
import { tokenParamsMaxTtl } from "../userpass/token_fields.ts";
import type { RenewingLogin, RenewLimits } from "../types.ts";
import type { RoleStore } from "./role.ts";

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((e) => y.has(e));
}

export async function renewLimits(roles: RoleStore, login: RenewingLogin): Promise<RenewLimits> {
  const role = await roles.get(login.role);
  if (!role) throw new BadRequest(`role "${login.role}" does not exist during renewal`);
  // What a login under the role would get now, as core's #issueLoginToken builds it.
  const granted = sanitizePolicies([
    ...role.token_policies,
    ...(role.token_no_default_policy ? [] : ["default"]),
  ]);
  if (!sameSet(granted, sanitizePolicies(login.policies))) {
    throw new BadRequest("policies have changed, not renewing");
  }
  // The token keeps the CIDRs it was issued with; renewing it would outlast a narrower binding.
  if (!sameSet(role.token_bound_cidrs, login.boundCidrs)) {
    throw new BadRequest("bound CIDRs have changed, not renewing");
  }
  return { ttl: role.token_ttl, maxTtl: tokenParamsMaxTtl(role) };
}
