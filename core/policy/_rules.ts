/**
 * Capability sets and the merge of two rules for the same pattern. Parsing (duplicate blocks in
 * one policy) and the ACL (the same pattern in several policies) share this merge so both give
 * the answer Vault gives.
 *
 * @module
 */
import { CAPABILITIES, type Capability, type PathRule } from "./types.ts";

export const CAP_BIT: Readonly<Record<Capability, number>> = Object.freeze({
  create: 1 << 0,
  read: 1 << 1,
  update: 1 << 2,
  patch: 1 << 3,
  delete: 1 << 4,
  list: 1 << 5,
  sudo: 1 << 6,
  deny: 1 << 7,
});

export function isCapability(s: unknown): s is Capability {
  return typeof s === "string" && Object.hasOwn(CAP_BIT, s);
}

export function toBits(caps: readonly Capability[]): number {
  let bits = 0;
  for (const c of caps) bits |= CAP_BIT[c];
  // A deny rule grants nothing, whatever else was listed beside it.
  return bits & CAP_BIT.deny ? CAP_BIT.deny : bits;
}

/** Canonical order, deduplicated; exactly ["deny"] when deny is present. */
export function fromBits(bits: number): Capability[] {
  if (bits & CAP_BIT.deny) return ["deny"];
  return CAPABILITIES.filter((c) => (bits & CAP_BIT[c]) !== 0);
}

/**
 * Sets an own property even for names like "__proto__", which plain assignment would turn into a
 * prototype change; parameter names come straight from policy authors.
 */
export function setOwn<T>(o: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/** An empty list means "any value", so it absorbs whatever it is combined with. */
export function unionValues(a: unknown[], b: unknown[]): unknown[] {
  return a.length === 0 || b.length === 0 ? [] : [...a, ...b];
}

function cloneParams(p: Record<string, unknown[]>): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const [k, v] of Object.entries(p)) setOwn(out, k, [...v]);
  return out;
}

export function cloneRule(r: PathRule): PathRule {
  const out: PathRule = { pattern: r.pattern, capabilities: fromBits(toBits(r.capabilities)) };
  // Compiled conditions are frozen, so sharing them is safe; dropping them would widen the rule.
  if (r.conditions) out.conditions = r.conditions;
  if (out.capabilities[0] === "deny") return out;
  if (r.allowedParameters) out.allowedParameters = cloneParams(r.allowedParameters);
  if (r.deniedParameters) out.deniedParameters = cloneParams(r.deniedParameters);
  if (r.requiredParameters) out.requiredParameters = [...r.requiredParameters];
  if (r.minWrappingTtl !== undefined) out.minWrappingTtl = r.minWrappingTtl;
  if (r.maxWrappingTtl !== undefined) out.maxWrappingTtl = r.maxWrappingTtl;
  return out;
}

/**
 * Vault's rule: an empty value list means "any value" and absorbs the other side; otherwise the
 * value lists are concatenated. A side without the map leaves the other side's map in force.
 */
function mergeParams(
  into: Record<string, unknown[]> | undefined,
  from: Record<string, unknown[]> | undefined,
): Record<string, unknown[]> | undefined {
  if (!from || Object.keys(from).length === 0) return into;
  if (!into) return cloneParams(from);
  const out = cloneParams(into);
  for (const [k, v] of Object.entries(from)) {
    setOwn(out, k, Object.hasOwn(out, k) ? unionValues(v, out[k]!) : [...v]);
  }
  return out;
}

/** Vault prefers the shorter lifetime when two rules both set one. */
function minDefined(a: number | undefined, b: number | undefined): number | undefined {
  if (b === undefined || b <= 0) return a;
  if (a === undefined || a <= 0) return b;
  return Math.min(a, b);
}

/** The key rules are grouped by before merging: only rules with equal conditions may merge. */
export function conditionsKey(r: PathRule): string {
  return r.conditions ? r.conditions.key : "";
}

/**
 * Merges `b` into a copy of `a` (same pattern, same conditions). Deny on either side wins
 * outright.
 *
 * @throws TypeError when the conditions differ: merging would let one rule's grant escape the
 * other rule's conditions.
 */
export function mergeRules(a: PathRule, b: PathRule): PathRule {
  if (conditionsKey(a) !== conditionsKey(b)) {
    throw new TypeError(`cannot merge rules for "${a.pattern}" with different conditions`);
  }
  const aBits = toBits(a.capabilities);
  const bBits = toBits(b.capabilities);
  if (aBits & CAP_BIT.deny) return cloneRule(a);
  if (bBits & CAP_BIT.deny) {
    const deny: PathRule = { pattern: a.pattern, capabilities: ["deny"] };
    if (b.conditions) deny.conditions = b.conditions;
    return deny;
  }

  const out: PathRule = { pattern: a.pattern, capabilities: fromBits(aBits | bBits) };
  if (a.conditions) out.conditions = a.conditions;
  const allowed = mergeParams(a.allowedParameters, b.allowedParameters);
  if (allowed) {
    out.allowedParameters = allowed === a.allowedParameters ? cloneParams(allowed) : allowed;
  }
  const denied = mergeParams(a.deniedParameters, b.deniedParameters);
  if (denied) out.deniedParameters = denied === a.deniedParameters ? cloneParams(denied) : denied;
  const required = [...(a.requiredParameters ?? [])];
  for (const p of b.requiredParameters ?? []) if (!required.includes(p)) required.push(p);
  if (required.length > 0) out.requiredParameters = required;
  const minTtl = minDefined(a.minWrappingTtl, b.minWrappingTtl);
  if (minTtl !== undefined) out.minWrappingTtl = minTtl;
  const maxTtl = minDefined(a.maxWrappingTtl, b.maxWrappingTtl);
  if (maxTtl !== undefined) out.maxWrappingTtl = maxTtl;
  return out;
}
