/**
 * Claim checks beyond what jose validates: bound claims, the user claim and claim mappings. A
 * name starting with "/" is a JSON pointer into nested claims (as Vault's claim mappings allow).
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

/**
 * go-glob's Glob, which Vault's bound_claims_type "glob" uses: "*" matches any run of
 * characters (none included) and nothing else is special. Each middle part is taken at its
 * leftmost match, which is enough when "*" is the only wildcard.
 */
export function globMatch(pattern: string, subject: string): boolean {
  if (pattern === "") return subject === "";
  if (pattern === "*") return true;
  const parts = pattern.split("*");
  if (parts.length === 1) return subject === pattern;
  const last = parts.length - 1;
  let rest = subject;
  for (let i = 0; i < last; i++) {
    const part = parts[i]!;
    const at = rest.indexOf(part);
    if (i === 0 ? at !== 0 : at < 0) return false;
    rest = rest.slice(at + part.length);
  }
  return rest.endsWith(parts[last]!);
}

export type BoundClaimsType = "string" | "glob";

/**
 * Name of the first bound claim the token fails; a list of wanted values means any of them.
 * "string" compares text exactly (numbers and booleans by their text); "glob" matches string
 * claims only, as Vault's does.
 */
export function failedBoundClaim(
  payload: JWTPayload,
  bound: Record<string, string | string[]>,
  type: BoundClaimsType = "string",
): string | null {
  for (const [name, want] of Object.entries(bound)) {
    const allowed = Array.isArray(want) ? want : [want];
    const raw = claimAt(payload, name);
    const ok = type === "glob"
      ? (Array.isArray(raw) ? raw : [raw]).some((h) =>
        typeof h === "string" && allowed.some((p) => globMatch(p, h))
      )
      : claimValues(raw).some((h) => allowed.includes(h));
    if (!ok) return name;
  }
  return null;
}

/** Why the user claim cannot name the user, or its value. */
export function userClaim(
  payload: JWTPayload,
  name: string,
): { user: string } | { error: string } {
  const raw = claimAt(payload, name);
  if (raw === undefined || raw === null || raw === "") {
    return { error: `user claim "${name}" missing` };
  }
  // Vault takes the user claim only as a JSON string: 12345 is not the user "12345".
  if (typeof raw !== "string") return { error: `claim "${name}" could not be converted to string` };
  return { user: raw };
}

/**
 * Vault's extractMetadata: each mapped claim that is present becomes metadata under its target
 * key; one that is present but not a string fails the login.
 */
export function mappedClaims(
  payload: JWTPayload,
  mappings: Record<string, string>,
): { metadata: Record<string, string> } | { error: string } {
  const out: [string, string][] = [];
  for (const [claim, key] of Object.entries(mappings)) {
    const raw = claimAt(payload, claim);
    if (raw === undefined || raw === null) continue;
    if (typeof raw !== "string") return { error: `error converting claim "${claim}" to string` };
    out.push([key, raw]);
  }
  // fromEntries defines own properties: a "__proto__" target stays a key.
  return { metadata: Object.fromEntries(out) };
}
