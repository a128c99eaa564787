/**
 * Turns policy text (HCL, JSON, or base64 of either) into a validated {@link Policy}.
 *
 * @module
 */
import { BadRequest } from "../../lib/errors.ts";
import { policyName, RESPONSE_WRAPPING_POLICY } from "../../lib/fields.ts";
import { parseDuration } from "../../lib/duration.ts";
import {
  type HclItem,
  HclSyntaxError,
  type HclValue,
  isHclObject,
  parseHclOrJson,
} from "./_hcl.ts";
import { isTemplated, patternError, stripLeadingSlashes } from "./_pattern.ts";
import { log } from "../log.ts";
import {
  CAP_BIT,
  conditionsKey,
  fromBits,
  isCapability,
  mergeRules,
  setOwn,
  unionValues,
} from "./_rules.ts";
import { compileConditions, type CompiledConditions } from "./conditions.ts";
import type { Capability, PathRule, Policy } from "./types.ts";

const NAME_RE = /^[a-zA-Z0-9_.@-]{1,128}$/;

const LEGACY_POLICIES: Readonly<Record<string, readonly Capability[]>> = {
  deny: ["deny"],
  read: ["read", "list"],
  write: ["create", "read", "update", "delete", "list"],
  sudo: ["create", "read", "update", "delete", "list", "sudo"],
};

/**
 * Parses and validates one ACL policy.
 *
 * @param name Policy name; trimmed and lower-cased as Vault does.
 * @param text HCL or JSON policy text, or base64 of either.
 * @param stored The text comes from storage, not from a write. A stored rule on a templated
 * path (written before such paths were refused) is left out, granting nothing, rather than
 * failing the whole policy: every request of a token holding it would otherwise be a 400.
 * @returns The policy with one rule per distinct (pattern, conditions); duplicates merged.
 * @throws BadRequest for a bad name, the `root` policy, or any syntax or validation error.
 */
export function parsePolicy(name: string, text: string, stored = false): Policy {
  const lower = policyName(name);
  if (!NAME_RE.test(lower)) {
    const rule = 'use 1 to 128 letters, digits, "_", ".", "@" or "-"';
    throw new BadRequest(`invalid policy name ${JSON.stringify(name)}: ${rule}`);
  }
  if (lower === "root") throw new BadRequest("cannot update root policy");
  if (lower === RESPONSE_WRAPPING_POLICY && !stored) {
    throw new BadRequest(`cannot update "${RESPONSE_WRAPPING_POLICY}" policy`);
  }
  if (typeof text !== "string" || text.trim() === "") {
    throw new BadRequest("failed to parse policy: policy is empty");
  }

  let raw = text;
  let items: HclItem[];
  try {
    items = parseHclOrJson(text).items;
  } catch (err) {
    if (!(err instanceof HclSyntaxError)) throw err;
    // Vault accepts base64 too; plain HCL and JSON are never valid base64, so no ambiguity.
    const decoded = decodeBase64Text(text);
    if (decoded === null) throw new BadRequest(`failed to parse policy: ${err.message}`);
    raw = decoded;
    try {
      items = parseHclOrJson(decoded).items;
    } catch (inner) {
      if (!(inner instanceof HclSyntaxError)) throw inner;
      throw new BadRequest(`failed to parse policy (base64-decoded): ${inner.message}`);
    }
  }

  const rules = decodeRules(items, stored ? name : null);
  if (rules.length === 0 && !stored) {
    throw new BadRequest("failed to parse policy: policy has no path rules");
  }
  return { name: lower, raw, rules };
}

function decodeBase64Text(text: string): string | null {
  const compact = text.replace(/\s+/g, "");
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return null;
  try {
    const bin = atob(compact);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const decoded = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return decoded.trim() === "" ? null : decoded;
  } catch {
    return null;
  }
}

function fail(where: string, msg: string): never {
  throw new BadRequest(`failed to parse policy: ${where}${msg}`);
}

function lineNote(line: number): string {
  return line > 0 ? ` (line ${line})` : "";
}

interface Block {
  pattern: string;
  body: HclValue;
  line: number;
}

/** Accepts both `path "x" { ... }` and the JSON-style `path = { "x" = { ... } }` shapes. */
function collectBlocks(items: HclItem[]): Block[] {
  const blocks: Block[] = [];
  for (const item of items) {
    const [key, ...rest] = item.keys;
    const at = item.line > 0 ? `line ${item.line}: ` : "";
    if (key === "name" && rest.length === 0) {
      if (typeof item.value !== "string") fail(at, `"name" must be a string`);
      continue;
    }
    if (key !== "path") fail(at, `invalid key ${JSON.stringify(key)}: expected "path"`);
    if (rest.length === 1) {
      blocks.push({ pattern: rest[0]!, body: item.value, line: item.line });
      continue;
    }
    if (rest.length > 1) fail(at, `"path" takes exactly one pattern`);
    const groups = Array.isArray(item.value) ? item.value : [item.value];
    for (const group of groups) {
      if (!isHclObject(group)) fail(at, `"path" must map patterns to rule blocks`);
      for (const inner of group.items) {
        if (inner.keys.length !== 1) fail(at, `"path" must map patterns to rule blocks`);
        blocks.push({ pattern: inner.keys[0]!, body: inner.value, line: inner.line || item.line });
      }
    }
  }
  return blocks;
}

/** `storedName`: a stored policy's name (templated rules skipped and logged), else null. */
function decodeRules(items: HclItem[], storedName: string | null): PathRule[] {
  // Keyed by pattern and conditions: a conditioned block merged into an unconditioned one (or
  // one with other conditions) would lose or borrow conditions.
  const byPattern = new Map<string, PathRule>();
  for (const block of collectBlocks(items)) {
    const where = `path ${JSON.stringify(block.pattern)}${lineNote(block.line)}: `;
    const pattern = stripLeadingSlashes(block.pattern);
    if (storedName !== null && isTemplated(pattern)) {
      log.warn("stored policy rule on a templated path grants nothing", {
        policy: storedName,
        path: pattern,
      });
      continue;
    }
    const err = patternError(pattern);
    if (err) fail(where, err);
    // JSON-style input may give a list of bodies for one pattern.
    const bodies = Array.isArray(block.body) ? block.body : [block.body];
    for (const body of bodies) {
      const rule = decodeBlock(pattern, body, where);
      const key = `${pattern}\u0000${conditionsKey(rule)}`;
      const prev = byPattern.get(key);
      byPattern.set(key, prev ? mergeRules(prev, rule) : rule);
    }
  }
  return [...byPattern.values()];
}

/** Everything a path block may set, collected before it becomes a PathRule. */
interface Draft {
  bits: number;
  legacy?: string;
  allowedParameters?: Record<string, unknown[]>;
  deniedParameters?: Record<string, unknown[]>;
  requiredParameters?: string[];
  minWrappingTtl?: number;
  maxWrappingTtl?: number;
  conditions?: CompiledConditions;
}

type FieldDecoder = (draft: Draft, value: HclValue, where: string, key: string) => void;

/**
 * The keys a path block accepts. A new key (or a nested block such as `conditions`, whose value
 * arrives as an HclObject) is one more entry here. Keys Vault knows but this server does not
 * enforce (mfa_methods, control_group, expiration, ...) are refused rather than ignored, so a
 * policy never silently grants more than its author wrote.
 */
const PATH_FIELDS: Readonly<Record<string, FieldDecoder>> = {
  capabilities(draft, value, where, key) {
    for (const cap of stringList(value, where, key)) {
      if (!isCapability(cap)) fail(where, `invalid capability ${JSON.stringify(cap)}`);
      draft.bits |= CAP_BIT[cap];
    }
  },
  policy(draft, value, where, key) {
    const s = str(value, where, key);
    if (!Object.hasOwn(LEGACY_POLICIES, s)) fail(where, `invalid policy ${JSON.stringify(s)}`);
    draft.legacy = s;
  },
  allowed_parameters(draft, value, where, key) {
    draft.allowedParameters = params(value, where, key);
  },
  denied_parameters(draft, value, where, key) {
    draft.deniedParameters = params(value, where, key);
  },
  required_parameters(draft, value, where, key) {
    const list = stringList(value, where, key);
    if (list.length > 0) draft.requiredParameters = [...new Set(list)];
  },
  min_wrapping_ttl(draft, value, where, key) {
    draft.minWrappingTtl = duration(value, where, key);
  },
  max_wrapping_ttl(draft, value, where, key) {
    draft.maxWrappingTtl = duration(value, where, key);
  },
  comment(_draft, value, where, key) {
    str(value, where, key);
  },
  conditions(draft, value, where) {
    draft.conditions = compileConditions(value, (msg) => fail(where, msg));
  },
};

function decodeBlock(pattern: string, body: HclValue, where: string): PathRule {
  if (!isHclObject(body)) fail(where, "expected a block { ... }");
  const draft: Draft = { bits: 0 };
  const seen = new Set<string>();
  for (const item of body.items) {
    const key = item.keys.join(" ");
    const at = item.line > 0 ? `${where.slice(0, -2)}, line ${item.line}: ` : where;
    const decoder = item.keys.length === 1 && Object.hasOwn(PATH_FIELDS, key)
      ? PATH_FIELDS[key]
      : undefined;
    if (!decoder) {
      fail(
        at,
        `invalid key ${JSON.stringify(key)}; valid keys: ${Object.keys(PATH_FIELDS).join(", ")}`,
      );
    }
    if (seen.has(key)) fail(at, `duplicate key ${JSON.stringify(key)}`);
    seen.add(key);
    decoder(draft, item.value, at, key);
  }

  for (const cap of draft.legacy ? LEGACY_POLICIES[draft.legacy]! : []) draft.bits |= CAP_BIT[cap];
  if (
    draft.minWrappingTtl && draft.maxWrappingTtl && draft.maxWrappingTtl < draft.minWrappingTtl
  ) {
    fail(where, "max_wrapping_ttl cannot be less than min_wrapping_ttl");
  }

  const rule: PathRule = { pattern, capabilities: fromBits(draft.bits) };
  if (draft.conditions) rule.conditions = draft.conditions;
  if (rule.capabilities[0] === "deny") return rule;
  if (draft.allowedParameters) rule.allowedParameters = draft.allowedParameters;
  if (draft.deniedParameters) rule.deniedParameters = draft.deniedParameters;
  if (draft.requiredParameters) rule.requiredParameters = draft.requiredParameters;
  if (draft.minWrappingTtl) rule.minWrappingTtl = draft.minWrappingTtl;
  if (draft.maxWrappingTtl) rule.maxWrappingTtl = draft.maxWrappingTtl;
  return rule;
}

function str(value: HclValue, where: string, key: string): string {
  if (typeof value !== "string") fail(where, `"${key}" must be a string`);
  return value;
}

function stringList(value: HclValue, where: string, key: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
    fail(where, `"${key}" must be a list of strings`);
  }
  return value as string[];
}

function duration(value: HclValue, where: string, key: string): number {
  if (typeof value !== "string" && typeof value !== "number") {
    fail(where, `"${key}" must be a duration`);
  }
  try {
    return parseDuration(value);
  } catch {
    return fail(where, `invalid ${key} ${JSON.stringify(value)}`);
  }
}

function params(value: HclValue, where: string, key: string): Record<string, unknown[]> {
  if (!isHclObject(value)) fail(where, `"${key}" must be a map of parameter names to lists`);
  const out: Record<string, unknown[]> = {};
  for (const item of value.items) {
    const name = item.keys.join(" ").toLowerCase();
    if (item.keys.length !== 1 || !Array.isArray(item.value)) {
      fail(where, `"${key}": ${JSON.stringify(name)} must be a list of values`);
    }
    const values = item.value.map(plain);
    // Two entries for one (case-folded) name would otherwise silently drop one of them.
    setOwn(out, name, Object.hasOwn(out, name) ? unionValues(out[name]!, values) : values);
  }
  return out;
}

function plain(v: HclValue): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (isHclObject(v)) {
    const o: Record<string, unknown> = {};
    for (const it of v.items) setOwn(o, it.keys.join(" "), plain(it.value));
    return o;
  }
  return v;
}
