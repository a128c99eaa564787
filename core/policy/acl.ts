/**
 * The one ACL evaluator: every request check and sys/capabilities-self answer comes from here,
 * so enforcement and introspection cannot disagree.
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
import { CAP_BIT, cloneRule, mergeRules, toBits } from "./_rules.ts";
import {
  CAPABILITIES,
  type Capability,
  type Operation,
  type PathRule,
  type Policy,
} from "./types.ts";

export interface AclResult {
  allowed: boolean;
  /** The winning rule's capabilities; ["deny"] for a deny rule, [] when nothing matched. */
  capabilities: Capability[];
  /** The winning pattern as written (e.g. "secret/*"), or null. */
  matchedPath: string | null;
  /** The winning rule grants sudo (false under deny). */
  sudo: boolean;
  /** The winning (merged) rule, for parameter checks; absent when nothing matched. */
  rule?: PathRule;
}

interface Entry {
  readonly pattern: string;
  readonly bits: number;
  /** Frozen: shared by every result for this rule, so no per-request allocation. */
  readonly caps: Capability[];
  /** Sorted names, as sys/capabilities-self reports them. */
  readonly sortedNames: readonly string[];
  /** The merged rule, kept for parameter and wrapping-TTL checks. */
  readonly rule: PathRule;
}

interface GlobEntry extends Entry {
  readonly compiled: CompiledPattern;
}

/** Bounds memory held by lookups of attacker-chosen paths. */
const MEMO_LIMIT = 10_000;
const MEMO_MAX_PATH_LENGTH = 1024;

const NONE: Capability[] = Object.freeze([]) as unknown as Capability[];
const ROOT_CAPS: Capability[] = Object.freeze(
  CAPABILITIES.filter((c) => c !== "deny"),
) as unknown as Capability[];

/** A Map so that a non-operation string (e.g. "sudo") can never select a capability bit. */
const OP_BIT: ReadonlyMap<string, number> = new Map<Operation, number>([
  ["read", CAP_BIT.read],
  ["create", CAP_BIT.create],
  ["update", CAP_BIT.update],
  ["patch", CAP_BIT.patch],
  ["delete", CAP_BIT.delete],
  ["list", CAP_BIT.list],
]);

function makeEntry(rule: PathRule): Entry {
  const bits = toBits(rule.capabilities);
  const caps = CAPABILITIES.filter((c) => (bits & CAP_BIT[c]) !== 0);
  return {
    pattern: rule.pattern,
    bits,
    caps: Object.freeze(caps) as unknown as Capability[],
    sortedNames: Object.freeze([...caps].sort()),
    rule,
  };
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
   * @param policies Every policy on the token. The same pattern in several policies is merged.
   * @param opts `root` bypasses all rules (root token); a policy *named* "root" grants nothing.
   * @throws TypeError if a rule carries a pattern parsePolicy would have rejected.
   */
  constructor(policies: Policy[], opts: { root?: boolean } = {}) {
    this.#root = opts.root === true;
    const merged = new Map<string, PathRule>();
    for (const policy of policies) {
      for (const r of policy.rules) {
        const pattern = stripLeadingSlashes(r.pattern);
        const err = patternError(pattern);
        if (err) throw new TypeError(`Invalid ACL path pattern "${r.pattern}": ${err}`);
        const rule = pattern === r.pattern ? r : { ...r, pattern };
        const prev = merged.get(pattern);
        merged.set(pattern, prev ? mergeRules(prev, rule) : cloneRule(rule));
      }
    }
    for (const [pattern, rule] of merged) {
      const entry = makeEntry(rule);
      if (isExactPattern(pattern)) this.#exact.set(pattern, entry);
      else this.#globs.push({ ...entry, compiled: compilePattern(pattern) });
    }
    this.#globs.sort((a, b) => byPriorityDescending(a.compiled, b.compiled));
  }

  /**
   * Capabilities that apply to `path`, sorted, as sys/capabilities-self reports them.
   *
   * @returns ["root"] for a root ACL; ["deny"] when nothing matches, the winning rule denies, or
   * it grants nothing.
   */
  capabilities(path: string): string[] {
    if (this.#root) return ["root"];
    // Vault evaluates this as a list request, which also lets "x/" fall back to an exact "x".
    const entry = this.#lookup(stripLeadingSlashes(path), true);
    if (!entry || entry.bits === 0 || entry.bits & CAP_BIT.deny) return ["deny"];
    return [...entry.sortedNames];
  }

  /**
   * Decides one request.
   *
   * @param path Request path without the "/v1/" prefix; list requests end in "/".
   * @param op The operation the request maps to.
   * @param needSudo The path is root-protected, so `sudo` is required as well.
   */
  check(path: string, op: Operation, needSudo = false): AclResult {
    if (this.#root) {
      return { allowed: true, capabilities: ROOT_CAPS, matchedPath: null, sudo: true };
    }
    const entry = this.#lookup(stripLeadingSlashes(path), op === "list");
    if (!entry) return { allowed: false, capabilities: NONE, matchedPath: null, sudo: false };
    if (entry.bits & CAP_BIT.deny) {
      return { allowed: false, capabilities: entry.caps, matchedPath: entry.pattern, sudo: false };
    }
    const sudo = (entry.bits & CAP_BIT.sudo) !== 0;
    const allowed = (entry.bits & (OP_BIT.get(op) ?? 0)) !== 0 && (sudo || !needSudo);
    return {
      allowed,
      capabilities: entry.caps,
      matchedPath: entry.pattern,
      sudo,
      rule: entry.rule,
    };
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
