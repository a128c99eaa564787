/**
 * Vault's `min_wrapping_ttl` / `max_wrapping_ttl` on a path rule, checked against the request's
 * X-Vault-Wrap-TTL once the ACL has allowed it (Vault's ACL.AllowOperation, after the
 * capability check):
 *
 * - either bound set and the request not wrapped: denied (a bound makes wrapping mandatory);
 * - a wrap TTL above the max, or below the min: denied;
 * - a max below the min (possible only after merging rules from several policies, each of which
 *   was valid on its own): nothing can satisfy both, denied.
 *
 * Vault answers all of these with a bare "permission denied"; the reason is added as a second
 * error, as the parameter checks do, since the bounds are no secret of the policy.
 *
 * @module
 */
import type { PathRule } from "./types.ts";

/** True when the rule sets a wrapping bound: the only case in which a check is needed. */
export function hasWrappingBounds(rule: PathRule): boolean {
  return rule.minWrappingTtl !== undefined || rule.maxWrappingTtl !== undefined;
}

/**
 * Why a request wrapped for `wrapTtl` seconds (0 = not wrapped) breaks the rule's wrapping
 * bounds, or null when it does not (or the rule sets none).
 */
export function wrappingViolation(rule: PathRule, wrapTtl: number): string | null {
  const min = rule.minWrappingTtl ?? 0;
  const max = rule.maxWrappingTtl ?? 0;
  if (min <= 0 && max <= 0) return null;
  if (min > 0 && max > 0 && max < min) {
    return `no wrapping TTL satisfies the policies on this path (min_wrapping_ttl ${min}s, max_wrapping_ttl ${max}s)`;
  }
  if (!(wrapTtl > 0)) {
    return `response wrapping is required on this path (X-Vault-Wrap-TTL ${bounds(min, max)})`;
  }
  if (max > 0 && wrapTtl > max) {
    return `wrapping TTL ${wrapTtl}s is above the maximum of ${max}s allowed on this path`;
  }
  if (min > 0 && wrapTtl < min) {
    return `wrapping TTL ${wrapTtl}s is below the minimum of ${min}s required on this path`;
  }
  return null;
}

function bounds(min: number, max: number): string {
  if (min > 0 && max > 0) return `between ${min}s and ${max}s`;
  return min > 0 ? `of at least ${min}s` : `of at most ${max}s`;
}
