/**
 * Vault's fine-grained parameter rules on a path: `denied_parameters` (a listed key, or "*",
 * refuses the request; a non-empty value list refuses only those values), `allowed_parameters`
 * (when present, every key must be listed or "*" must be; a non-empty value list limits values)
 * and `required_parameters`. Values may use a leading or trailing "*" glob, as in Vault.
 */
import type { PathRule } from "./types.ts";

function valueMatches(pattern: unknown, value: unknown): boolean {
  if (typeof pattern === "string" && typeof value === "string") {
    if (pattern === "*") return true;
    if (pattern.length > 1 && pattern.endsWith("*")) return value.startsWith(pattern.slice(0, -1));
    if (pattern.length > 1 && pattern.startsWith("*")) return value.endsWith(pattern.slice(1));
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
    const star = denied["*"];
    for (const k of keys) {
      const list = Object.hasOwn(denied, k) ? denied[k]! : star;
      if (list === undefined) continue;
      if (list.length === 0 || anyMatch(list, data[k])) return `parameter "${k}" is denied`;
    }
  }
  const allowed = rule.allowedParameters;
  if (allowed && Object.keys(allowed).length > 0) {
    const star = allowed["*"];
    for (const k of keys) {
      const list = Object.hasOwn(allowed, k) ? allowed[k]! : star;
      if (list === undefined) return `parameter "${k}" is not allowed`;
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
