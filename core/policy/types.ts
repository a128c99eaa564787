/** Shared shapes of the ACL policy module. */
import type { CompiledConditions } from "./conditions.ts";

export type Capability =
  | "create"
  | "read"
  | "update"
  | "patch"
  | "delete"
  | "list"
  | "sudo"
  | "deny";

/** Every capability, in the order rules report them. */
export const CAPABILITIES: readonly Capability[] = Object.freeze([
  "create",
  "read",
  "update",
  "patch",
  "delete",
  "list",
  "sudo",
  "deny",
]);

export interface PathRule {
  /** Without a leading "/"; may end in "*" and contain "+" segments. */
  pattern: string;
  /** Canonical order, no duplicates; exactly ["deny"] when the rule denies. */
  capabilities: Capability[];
  /**
   * Parameter name (lower-cased) → allowed values; [] means any value, key "*" any parameter.
   * Names are author-controlled: look them up with Object.hasOwn, never plain indexing.
   */
  allowedParameters?: Record<string, unknown[]>;
  deniedParameters?: Record<string, unknown[]>;
  requiredParameters?: string[];
  /** Seconds. */
  minWrappingTtl?: number;
  /** Seconds. */
  maxWrappingTtl?: number;
  /**
   * When present the rule applies only while every condition holds (a deny rule denies only
   * then). `conditions.spec` is the normalised form for display.
   */
  conditions?: CompiledConditions;
}

export interface Policy {
  /** Lower-cased. */
  name: string;
  /** The policy text as stored and returned to clients (already base64-decoded). */
  raw: string;
  /**
   * One rule per distinct (pattern, conditions): blocks that share both are merged, but rules with
   * different conditions stay separate so that each is gated by its own conditions.
   */
  rules: PathRule[];
}

export type Operation = "read" | "create" | "update" | "patch" | "delete" | "list";

/** What a request brings to the evaluation of rule conditions. */
export interface EvalContext {
  /** The client address (after trusted-proxy handling); needed by `source_ip`. */
  remoteAddress?: string;
  /** Epoch milliseconds; needed by `time_of_day`, `days_of_week` and `date_range`. */
  now: number;
  /** Remaining token lifetime in seconds, 0 = never expires; needed by `max_ttl`. */
  tokenTtl?: number;
}
