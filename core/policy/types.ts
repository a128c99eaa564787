/** Shared shapes of the ACL policy module. */

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
}

export interface Policy {
  /** Lower-cased. */
  name: string;
  /** The policy text as stored and returned to clients (already base64-decoded). */
  raw: string;
  /** One rule per distinct pattern. */
  rules: PathRule[];
}

export type Operation = "read" | "create" | "update" | "patch" | "delete" | "list";
