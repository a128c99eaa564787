/**
 * ACL policies: parse Vault policy text and decide requests against a token's policies.
 *
 * @module
 */
export type { Capability, EvalContext, Operation, PathRule, Policy } from "./types.ts";
export { CAPABILITIES } from "./types.ts";
export { parsePolicy } from "./parse.ts";
export { Acl, type AclResult } from "./acl.ts";
export type { CompiledConditions, ConditionSpec } from "./conditions.ts";
export {
  parseSimulationTime,
  simulate,
  type SimulateInput,
  type SimulateResult,
} from "./simulate.ts";
export {
  getTemplate,
  POLICY_TEMPLATES,
  type PolicyTemplate,
  renderTemplate,
  type TemplateParameter,
  type TemplateParameterType,
} from "./templates.ts";
export { DEFAULT_POLICY_HCL, DEFAULT_POLICY_NAME } from "./defaults.ts";
