/**
 * The one ACL evaluator: every request check, sys/capabilities-self answer and policy simulation
 * comes from here, so enforcement and introspection cannot disagree.
 *
 * Rules with conditions. The most specific pattern decides, exactly as without conditions; a
 * failing condition never lets a broader pattern take over (that would make a restriction on
 * "secret/prod/*" void wherever "secret/*" is granted). Among the rules of that one pattern:
 *
 * - Rules with equal conditions (or none) merge as Vault merges same-pattern rules; rules with
 *   different conditions are kept apart, whichever policies they come from.
 * - An unconditioned deny denies, whatever else applies.
 * - A deny with conditions denies while its conditions hold, and also when any of them cannot
 *   be evaluated (fail closed); otherwise it has no effect.
 * - The grants in force are the unconditioned rule plus every conditioned rule whose conditions
 *   all hold; they are merged (capabilities, parameters, wrapping TTLs) as Vault merges
 *   same-pattern rules, and the request is decided against that merge. So a conditioned grant
 *   adds its capabilities only while its conditions hold and never widens another rule, and an
 *   unconditioned grant keeps applying to its own capabilities alone.
 *
 * Conditions are evaluated after the (memoised) pattern lookup, on every call; their outcome is
 * never memoised.
 *
 * @module
 */
import {
  byPriorityDescending,
  type CompiledPattern,
  compilePattern,
  isExactPattern,
  patternError,
  segmentsMatch,
  stripLeadingSlashes,
} from "./_pattern.ts";
import { CAP_BIT, cloneRule, conditionsKey, mergeRules, toBits } from "./_rules.ts";
import {
  type CompiledConditions,
  type ConditionFailure,
  conditionFailures,
  type EvalState,
} from "./conditions.ts";
import {
  CAPABILITIES,
  type Capability,
  type EvalContext,
  type Operation,
  type PathRule,
  type Policy,
} from "./types.ts";

export type { EvalContext } from "./types.ts";

export interface AclResult {
  allowed: boolean;
  /**
   * The capabilities in force on the winning pattern (after conditions); ["deny"] for a deny,
   * [] when nothing matched.
   */
  capabilities: Capability[];
  /** The winning pattern as written (e.g. "secret/*"), or null. */
  matchedPath: string | null;
  /** The winning rule grants sudo (false under deny). */
  sudo: boolean;
  /** The rules in force, merged, for parameter checks; absent when nothing grants. */
  rule?: PathRule;
  /** Why the request is denied; absent when allowed. */
  reason?: string;
}

/** One set of rules in force on a pattern, with everything a decision reads precomputed. */
interface Grant {
  readonly bits: number;
  /** Frozen: shared by every result for this rule, so no per-request allocation. */
  readonly caps: Capability[];
  /** Sorted names, as sys/capabilities-self reports them. */
  readonly sortedNames: readonly string[];
  /** The merged rule, kept for parameter and wrapping-TTL checks. */
  readonly rule: PathRule | undefined;
}

interface CondRule {
  readonly bits: number;
  readonly deny: boolean;
  readonly conditions: CompiledConditions;
  /** The rule without its conditions, to merge into the grants in force once they hold. */
  readonly plain: PathRule;
}

interface Entry {
  readonly pattern: string;
  /** The unconditioned rules of the pattern, merged (bits 0 when there are none). */
  readonly base: Grant;
  /** null (the common case) keeps the decision as cheap as it was before conditions existed. */
  readonly conds: readonly CondRule[] | null;
  /** Grants in force per bitmask of satisfied conditioned rules, built on first use. */
  readonly byMask: Map<number, Grant> | null;
}

interface GlobEntry extends Entry {
  readonly compiled: CompiledPattern;
}

/** The result of evaluating a pattern's conditioned rules for one request. */
interface Effective {
  readonly grant: Grant;
  /** Set when a deny rule applies. */
  readonly deniedBy?: string;
  /** Index-aligned with Entry.conds; set for grant rules whose conditions failed. */
  readonly failures?: (ConditionFailure | undefined)[];
}

/** Bounds memory held by lookups of attacker-chosen paths. */
const MEMO_LIMIT = 10_000;
const MEMO_MAX_PATH_LENGTH = 1024;
/** Beyond this many conditioned rules on one pattern the satisfied set no longer fits a mask. */
const MASK_RULES = 30;
const BY_MASK_LIMIT = 256;

const NONE: Capability[] = Object.freeze([]) as unknown as Capability[];
const DENY: Capability[] = Object.freeze(["deny"]) as unknown as Capability[];
const ROOT_CAPS: Capability[] = Object.freeze(
  CAPABILITIES.filter((c) => c !== "deny"),
) as unknown as Capability[];
const EMPTY_GRANT: Grant = Object.freeze({
  bits: 0,
  caps: NONE,
  sortedNames: Object.freeze([]),
  rule: undefined,
});

/** A Map so that a non-operation string (e.g. "sudo") can never select a capability bit. */
const OP_BIT: ReadonlyMap<string, number> = new Map<Operation, number>([
  ["read", CAP_BIT.read],
  ["create", CAP_BIT.create],
  ["update", CAP_BIT.update],
  ["patch", CAP_BIT.patch],
  ["delete", CAP_BIT.delete],
  ["list", CAP_BIT.list],
]);

function makeGrant(rule: PathRule): Grant {
  const bits = toBits(rule.capabilities);
  const caps = CAPABILITIES.filter((c) => (bits & CAP_BIT[c]) !== 0);
  return {
    bits,
    caps: Object.freeze(caps) as unknown as Capability[],
    sortedNames: Object.freeze([...caps].sort()),
    rule,
  };
}

function withoutConditions(r: PathRule): PathRule {
  const copy = cloneRule(r);
  delete copy.conditions;
  return copy;
}

function grants(bits: number, op: Operation, needSudo: boolean): boolean {
  return (bits & (OP_BIT.get(op) ?? 0)) !== 0 && (!needSudo || (bits & CAP_BIT.sudo) !== 0);
}

function makeEntry(pattern: string, base: PathRule | undefined, conds: PathRule[]): Entry {
  return {
    pattern,
    base: base ? makeGrant(base) : EMPTY_GRANT,
    conds: conds.length === 0 ? null : conds.map((r) => {
      const bits = toBits(r.capabilities);
      return {
        bits,
        deny: (bits & CAP_BIT.deny) !== 0,
        conditions: r.conditions!,
        plain: withoutConditions(r),
      };
    }),
    byMask: conds.length === 0 ? null : new Map(),
  };
}

/**
 * Whether glob `pattern` ("+" segments, a trailing "*") matches some path that starts with
 * `prefix` (a mount path, "secret/").
 */
function patternReachesUnder(pattern: string, prefix: string): boolean {
  const want = prefix.replace(/\/$/, "").split("/");
  const segs = pattern.split("/");
  for (let i = 0; i < want.length; i++) {
    const seg = segs[i];
    if (seg === undefined) return false;
    const last = i === segs.length - 1;
    if (last && seg.endsWith("*")) return want[i]!.startsWith(seg.slice(0, -1));
    if (seg !== "+" && seg !== want[i]) return false;
  }
  return true;
}

/**
 * The merged rules of a token's policies, compiled once.
 *
 * @example
 * ```ts
 * const acl = new Acl([parsePolicy("app", 'path "secret/*" { capabilities = ["read"] }')]);
 * acl.check("secret/foo", "read").allowed; // true
 * ```
 */
export class Acl {
  readonly #root: boolean;
  readonly #exact = new Map<string, Entry>();
  /** Highest priority first, so the first match is the winner. */
  readonly #globs: GlobEntry[] = [];
  /**
   * Glob lookup results per path (null records "no glob matched"), in two generations: when the
   * young map fills, it becomes the old one and the previous old one is dropped. That bounds
   * memory at MEMO_LIMIT entries with O(1) work; evicting single entries from the front of a Map
   * is not O(1) in V8 once many have been deleted.
   */
  #memo = new Map<string, Entry | null>();
  #memoOld = new Map<string, Entry | null>();

  /**
   * @param policies Every policy on the token. The same pattern in several policies is merged
   * when the conditions are equal too; see the module comment for rules with conditions.
   * @param opts `root` bypasses all rules (root token); a policy *named* "root" grants nothing.
   * @throws TypeError if a rule carries a pattern parsePolicy would have rejected.
   */
  constructor(policies: Policy[], opts: { root?: boolean } = {}) {
    this.#root = opts.root === true;
    const merged = new Map<string, Map<string, PathRule>>();
    for (const policy of policies) {
      for (const r of policy.rules) {
        const pattern = stripLeadingSlashes(r.pattern);
        const err = patternError(pattern);
        if (err) throw new TypeError(`Invalid ACL path pattern "${r.pattern}": ${err}`);
        const rule = pattern === r.pattern ? r : { ...r, pattern };
        let byConds = merged.get(pattern);
        if (!byConds) merged.set(pattern, byConds = new Map());
        const key = conditionsKey(rule);
        const prev = byConds.get(key);
        byConds.set(key, prev ? mergeRules(prev, rule) : cloneRule(rule));
      }
    }
    for (const [pattern, byConds] of merged) {
      const base = byConds.get("");
      const conds = [...byConds.values()].filter((r) => r.conditions);
      const entry = makeEntry(pattern, base, conds);
      if (isExactPattern(pattern)) this.#exact.set(pattern, entry);
      else this.#globs.push({ ...entry, compiled: compilePattern(pattern) });
    }
    this.#globs.sort((a, b) => byPriorityDescending(a.compiled, b.compiled));
  }

  /**
   * Capabilities that apply to `path`, sorted, as sys/capabilities-self reports them.
   *
   * @param ctx The request, for rules with conditions; without it a conditioned grant
   * contributes nothing and a conditioned deny applies.
   * @returns ["root"] for a root ACL; ["deny"] when nothing matches, a deny rule applies, or
   * nothing is granted.
   */
  capabilities(path: string, ctx?: EvalContext): string[] {
    if (this.#root) return ["root"];
    // Vault evaluates this as a list request, which also lets "x/" fall back to an exact "x".
    const entry = this.#lookup(stripLeadingSlashes(path), true);
    if (!entry) return ["deny"];
    let grant = entry.base;
    if (entry.conds !== null && !(grant.bits & CAP_BIT.deny)) {
      const eff = this.#effective(entry, ctx);
      if (eff.deniedBy !== undefined) return ["deny"];
      grant = eff.grant;
    }
    if (grant.bits === 0 || grant.bits & CAP_BIT.deny) return ["deny"];
    return [...grant.sortedNames];
  }

  /**
   * Vault's hasMountAccess: whether some rule grants anything (deny aside) at `prefix` or at a
   * path under it, so sys/internal/ui/mounts tells a token about a mount it can use somewhere
   * inside, and nothing about the others.
   */
  hasAccessUnder(prefix: string, ctx?: EvalContext): boolean {
    if (this.#root) return true;
    const p = stripLeadingSlashes(prefix);
    if (!this.capabilities(p, ctx).includes("deny")) return true;
    const grantsSome = (e: Entry) =>
      (e.base.bits !== 0 && !(e.base.bits & CAP_BIT.deny)) ||
      (e.conds?.some((c) => !c.deny && c.bits !== 0) ?? false);
    for (const e of this.#exact.values()) {
      if (e.pattern.startsWith(p) && grantsSome(e)) return true;
    }
    return this.#globs.some((g) => patternReachesUnder(g.pattern, p) && grantsSome(g));
  }

  /**
   * Decides one request.
   *
   * @param path Request path without the "/v1/" prefix; list requests end in "/".
   * @param op The operation the request maps to.
   * @param needSudo The path is root-protected, so `sudo` is required as well.
   * @param ctx The request, for rules with conditions. Without it every condition is
   * undecidable: conditioned grants contribute nothing and conditioned denies apply.
   */
  check(path: string, op: Operation, needSudo = false, ctx?: EvalContext): AclResult {
    if (this.#root) {
      return { allowed: true, capabilities: ROOT_CAPS, matchedPath: null, sudo: true };
    }
    const entry = this.#lookup(stripLeadingSlashes(path), op === "list");
    if (!entry) {
      return {
        allowed: false,
        capabilities: NONE,
        matchedPath: null,
        sudo: false,
        reason: `no policy rule matches path ${JSON.stringify(path)}`,
      };
    }
    const pattern = entry.pattern;
    if (entry.base.bits & CAP_BIT.deny) {
      return {
        allowed: false,
        capabilities: entry.base.caps,
        matchedPath: pattern,
        sudo: false,
        reason: `denied by rule ${JSON.stringify(pattern)}`,
      };
    }
    if (entry.conds === null) return decide(pattern, entry.base, op, needSudo);

    const eff = this.#effective(entry, ctx);
    if (eff.deniedBy !== undefined) {
      return {
        allowed: false,
        capabilities: DENY,
        matchedPath: pattern,
        sudo: false,
        reason: eff.deniedBy,
      };
    }
    const result = decide(pattern, eff.grant, op, needSudo);
    if (!result.allowed && eff.failures) {
      // Name the conditions that kept a rule able to grant this request from applying.
      for (let i = 0; i < entry.conds.length; i++) {
        const f = eff.failures[i];
        if (f && grants(eff.grant.bits | entry.conds[i]!.bits, op, needSudo)) {
          result.reason = f.reasons.join("; ");
          break;
        }
      }
    }
    return result;
  }

  /** Evaluates every conditioned rule of `entry` and returns the grants in force. */
  #effective(entry: Entry, ctx: EvalContext | undefined): Effective {
    const conds = entry.conds!;
    const state: EvalState = { ctx };
    let mask = 0;
    let satisfied: CondRule[] | undefined;
    let failures: (ConditionFailure | undefined)[] | undefined;
    for (let i = 0; i < conds.length; i++) {
      const cr = conds[i]!;
      const f = conditionFailures(cr.conditions, state);
      if (cr.deny) {
        const pattern = JSON.stringify(entry.pattern);
        if (f === null) {
          return {
            grant: EMPTY_GRANT,
            deniedBy: `denied by rule ${pattern}: its conditions hold (${
              JSON.stringify(cr.conditions.spec)
            })`,
          };
        }
        if (f.unevaluable) {
          return {
            grant: EMPTY_GRANT,
            deniedBy: `denied by rule ${pattern}, whose conditions cannot all be evaluated: ${
              f.reasons.join("; ")
            }`,
          };
        }
        continue;
      }
      if (f !== null) {
        (failures ??= [])[i] = f;
        continue;
      }
      if (conds.length <= MASK_RULES) mask |= 1 << i;
      else (satisfied ??= []).push(cr);
    }

    if (conds.length > MASK_RULES) {
      return { grant: buildGrant(entry.base, satisfied ?? []), failures };
    }
    const cache = entry.byMask!;
    let grant = cache.get(mask);
    if (!grant) {
      grant = buildGrant(entry.base, conds.filter((_, i) => mask & (1 << i)));
      if (cache.size >= BY_MASK_LIMIT) cache.clear();
      cache.set(mask, grant);
    }
    return { grant, failures };
  }

  #lookup(path: string, list: boolean): Entry | undefined {
    const exact = this.#exact.get(path);
    if (exact) return exact;
    // A list request names the folder with a trailing "/"; Vault lets an exact rule for the
    // folder without it apply.
    if (list && path.endsWith("/")) {
      const folder = this.#exact.get(path.slice(0, -1));
      if (folder) return folder;
    }
    return this.#glob(path);
  }

  #glob(path: string): Entry | undefined {
    if (this.#globs.length === 0) return undefined;
    const cached = this.#memo.get(path);
    if (cached !== undefined) return cached ?? undefined;
    const older = this.#memoOld.get(path);
    if (older !== undefined) {
      this.#remember(path, older);
      return older ?? undefined;
    }

    let parts: readonly string[] | undefined;
    let found: Entry | null = null;
    for (const g of this.#globs) {
      const c = g.compiled;
      if (!path.startsWith(c.literalPrefix)) continue;
      if (c.hasSegmentWildcards && !segmentsMatch(c, parts ??= path.split("/"))) continue;
      found = g;
      break;
    }

    if (path.length <= MEMO_MAX_PATH_LENGTH) this.#remember(path, found);
    return found ?? undefined;
  }

  #remember(path: string, entry: Entry | null): void {
    if (this.#memo.size >= MEMO_LIMIT / 2) {
      this.#memoOld = this.#memo;
      this.#memo = new Map();
    }
    this.#memo.set(path, entry);
  }
}

function buildGrant(base: Grant, satisfied: readonly CondRule[]): Grant {
  if (satisfied.length === 0) return base;
  let rule = base.rule;
  for (const cr of satisfied) rule = rule ? mergeRules(rule, cr.plain) : cr.plain;
  return makeGrant(rule!);
}

function decide(pattern: string, grant: Grant, op: Operation, needSudo: boolean): AclResult {
  const sudo = (grant.bits & CAP_BIT.sudo) !== 0;
  const result: AclResult = {
    allowed: grants(grant.bits, op, needSudo),
    capabilities: grant.caps,
    matchedPath: pattern,
    sudo,
  };
  if (grant.rule) result.rule = grant.rule;
  if (!result.allowed) {
    result.reason = (grant.bits & (OP_BIT.get(op) ?? 0)) === 0
      ? `rule ${JSON.stringify(pattern)} does not grant ${JSON.stringify(op)}`
      : `rule ${JSON.stringify(pattern)} does not grant "sudo", which this path requires`;
  }
  return result;
}
