/**
 * Path patterns: validation, matching and Vault's priority order between glob patterns.
 * Matching is done segment by segment by hand; no regular expression is ever built from a
 * pattern, so pattern text can contain any character without changing the meaning.
 *
 * @module
 */

export interface CompiledPattern {
  /** As written, without a leading "/". */
  readonly pattern: string;
  /** Ends in "*": matches every path that starts with `body`. */
  readonly isPrefix: boolean;
  /** Has "+" segment wildcards: matched segment by segment. */
  readonly hasSegmentWildcards: boolean;
  /** The pattern without its trailing "*". */
  readonly body: string;
  /** `body` split on "/"; only used when hasSegmentWildcards. */
  readonly segments: readonly string[];
  /** Position of the first "+" (segment patterns) or of the "*" (pure prefix patterns). */
  readonly firstWildcard: number;
  /** Number of "+" segments. */
  readonly wildcards: number;
  /** The text before the first wildcard: every match starts with it, a cheap first test. */
  readonly literalPrefix: string;
}

/** Returns why `pattern` is not acceptable, or null. `pattern` has no leading "/". */
export function patternError(pattern: string): string | null {
  if (pattern === "") return "path pattern is empty";
  const star = pattern.indexOf("*");
  if (star >= 0 && star !== pattern.length - 1) {
    return `invalid use of "*" in path pattern: it may only appear at the very end`;
  }
  // Vault refuses "+*": a "+" segment cannot also be a prefix glob.
  if (pattern.includes("+*")) return `invalid use of wildcards in path pattern: "+*" is forbidden`;
  if (isTemplated(pattern)) return TEMPLATING_UNSUPPORTED;
  return null;
}

export const TEMPLATING_UNSUPPORTED = "policy templating is not supported";

/**
 * Vault fills "{{identity.…}}" in from the identity store, which SecretHub does not have;
 * matched as literal text, a templated rule would grant what its author did not mean.
 */
export function isTemplated(pattern: string): boolean {
  return pattern.includes("{{") || pattern.includes("}}");
}

export function stripLeadingSlashes(path: string): string {
  let i = 0;
  while (i < path.length && path.charCodeAt(i) === 47) i++;
  return i === 0 ? path : path.slice(i);
}

/** Exact patterns (no "*", no "+" segment) are looked up in a Map instead. */
export function isExactPattern(pattern: string): boolean {
  return !pattern.endsWith("*") && !hasSegmentWildcards(pattern);
}

/** Vault's own test, kept verbatim so the same patterns count as segment-wildcard patterns. */
function hasSegmentWildcards(pattern: string): boolean {
  return pattern === "+" || pattern.includes("/+") || pattern.startsWith("+/");
}

export function compilePattern(pattern: string): CompiledPattern {
  const err = patternError(pattern);
  if (err) throw new TypeError(`Invalid ACL path pattern "${pattern}": ${err}`);
  const isPrefix = pattern.endsWith("*");
  const body = isPrefix ? pattern.slice(0, -1) : pattern;
  const segmented = hasSegmentWildcards(pattern);
  const segments = segmented ? body.split("/") : [];
  const firstWildcard = segmented ? pattern.indexOf("+") : body.length;
  return {
    pattern,
    isPrefix,
    hasSegmentWildcards: segmented,
    body,
    segments,
    firstWildcard,
    wildcards: segments.filter((s) => s === "+").length,
    literalPrefix: pattern.slice(0, firstWildcard),
  };
}

/**
 * Orders glob patterns from the highest priority to the lowest. P1 is lower than P2 if, in
 * order: its first wildcard comes earlier; it ends in "*" and P2 does not; it has more "+"
 * segments; it is shorter; it sorts lower.
 */
export function byPriorityDescending(a: CompiledPattern, b: CompiledPattern): number {
  if (a.firstWildcard !== b.firstWildcard) return b.firstWildcard - a.firstWildcard;
  if (a.isPrefix !== b.isPrefix) return a.isPrefix ? 1 : -1;
  if (a.wildcards !== b.wildcards) return a.wildcards - b.wildcards;
  if (a.body.length !== b.body.length) return b.body.length - a.body.length;
  return a.body < b.body ? 1 : a.body > b.body ? -1 : 0;
}

/**
 * Does segment-wildcard pattern `c` match `path`? `parts` is `path.split("/")`, computed by the
 * caller at most once per lookup, and only after `path` starts with `c.literalPrefix`. "+" matches
 * any one segment, including an empty one, as in Vault.
 */
export function segmentsMatch(c: CompiledPattern, parts: readonly string[]): boolean {
  const segs = c.segments;
  if (parts.length < segs.length) return false;
  if (!c.isPrefix && parts.length !== segs.length) return false;
  const last = segs.length - 1;
  for (let i = 0; i <= last; i++) {
    const seg = segs[i]!;
    const part = parts[i]!;
    if (seg === "+" || seg === part) continue;
    if (c.isPrefix && i === last && part.startsWith(seg)) continue;
    return false;
  }
  return true;
}
