/**
 * ACL policies: parse Vault policy text and decide requests against a token's policies.
 *
 * @module
 */
export type { Capability, Operation, PathRule, Policy } from "./types.ts";
export { CAPABILITIES } from "./types.ts";
export { parsePolicy } from "./parse.ts";
export { Acl, type AclResult } from "./acl.ts";
export { DEFAULT_POLICY_HCL, DEFAULT_POLICY_NAME } from "./defaults.ts";
