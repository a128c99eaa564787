/**
 * Vault's fine-grained parameter rules on a path (acl.go AllowOperation): `denied_parameters`
 * ("*" refuses any request with data; a listed key is refused, or only the listed values of it),
 * `allowed_parameters` (when present, every key must be listed, unless "*" is; a non-empty value
 * list limits a listed key's values, while the value list of "*" itself limits nothing, as in
 * Vault) and `required_parameters`. Values match as Vault's strutil.GlobbedStringsMatch.
 */
import type { PathRule } from "./types.ts";

/**
 * strutil.GlobbedStringsMatch: "*x*" contains x, "x*" starts with it, "*x" ends with it.
 * A lone "*" stays "any value" here, as it always has in SecretHub's policies.
 */
function valueMatches(pattern: unknown, value: unknown): boolean {
  if (typeof pattern === "string" && typeof value === "string") {
    if (pattern === "*") return true;
    if (pattern.length < 2) return value === pattern;
    const lead = pattern.startsWith("*");
    const trail = pattern.endsWith("*");
    if (lead && trail) return value.includes(pattern.slice(1, -1));
    if (lead) return value.endsWith(pattern.slice(1));
    if (trail) return value.startsWith(pattern.slice(0, -1));
    return value === pattern;
  }
  return JSON.stringify(pattern) === JSON.stringify(value);
}

function anyMatch(patterns: unknown[], value: unknown): boolean {
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => patterns.some((p) => valueMatches(p, v)));
}

function allMatch(patterns: unknown[], value: unknown): boolean {
  const values = Array.isArray(value) ? value : [value];
  return values.every((v) => patterns.some((p) => valueMatches(p, v)));
}

/** Returns why the request data breaks the rule's parameter constraints, or null if it doesn't. */
export function parameterViolation(rule: PathRule, data: Record<string, unknown>): string | null {
  const keys = Object.keys(data);
  const denied = rule.deniedParameters;
  if (denied) {
    // "*" denies every request that carries data, whatever other keys are listed beside it.
    if (keys.length > 0 && Object.hasOwn(denied, "*")) return `parameter "${keys[0]}" is denied`;
    for (const k of keys) {
      // Rule keys are stored lowercased; a request's keys are looked up lowercased, as Vault's
      // acl.go does, so `TTL` meets a rule on `ttl`.
      const lk = k.toLowerCase();
      if (!Object.hasOwn(denied, lk)) continue;
      const list = denied[lk]!;
      if (list.length === 0 || anyMatch(list, data[k])) return `parameter "${k}" is denied`;
    }
  }
  const allowed = rule.allowedParameters;
  if (allowed && Object.keys(allowed).length > 0) {
    const star = Object.hasOwn(allowed, "*");
    for (const k of keys) {
      const lk = k.toLowerCase();
      // A key "*" lets in: Vault checks values only for keys listed by name.
      if (!Object.hasOwn(allowed, lk)) {
        if (star) continue;
        return `parameter "${k}" is not allowed`;
      }
      const list = allowed[lk]!;
      if (list.length > 0 && !allMatch(list, data[k])) {
        return `value of parameter "${k}" is not allowed`;
      }
    }
  }
  for (const k of rule.requiredParameters ?? []) {
    if (!Object.hasOwn(data, k)) return `missing required parameter "${k}"`;
  }
  return null;
}
