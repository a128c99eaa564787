/**
 * Claim checks beyond what jose validates: bound claims and the user claim. A name starting
 * with "/" is a JSON pointer into nested claims (as Vault's claim mappings allow).
 */
import type { JWTPayload } from "jose";

/** The claim's value, or undefined when absent. */
export function claimAt(payload: JWTPayload, name: string): unknown {
  if (!name.startsWith("/")) return Object.hasOwn(payload, name) ? payload[name] : undefined;
  let cur: unknown = payload;
  for (const raw of name.slice(1).split("/")) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (cur === null || typeof cur !== "object" || !Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function scalarText(x: unknown): string | null {
  if (typeof x === "string") return x;
  if (typeof x === "number" || typeof x === "boolean") return String(x);
  return null;
}

/** A claim's values as strings: a scalar is one value, a list (e.g. "groups") is each item. */
function claimValues(x: unknown): string[] {
  const items = Array.isArray(x) ? x : [x];
  return items.map(scalarText).filter((s): s is string => s !== null);
}

/** Name of the first bound claim the token fails (exact string match; a list means any of). */
export function failedBoundClaim(
  payload: JWTPayload,
  bound: Record<string, string | string[]>,
): string | null {
  for (const [name, want] of Object.entries(bound)) {
    const allowed = Array.isArray(want) ? want : [want];
    const have = claimValues(claimAt(payload, name));
    if (!have.some((h) => allowed.includes(h))) return name;
  }
  return null;
}

/** The user claim as a string, or null when it is missing or not a scalar. */
export function userClaimValue(payload: JWTPayload, name: string): string | null {
  const s = scalarText(claimAt(payload, name));
  return s === null || s === "" ? null : s;
}
