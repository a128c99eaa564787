/** The agent's non-executable template language; see agent/CONFIG.md for the syntax. */
export {
  MAX_OUTPUT_BYTES,
  MAX_TEMPLATE_BYTES,
  parseTemplate,
  type SecretLookup,
  type SecretRef,
  Template,
} from "./template.ts";
export { TemplateRenderError, TemplateSyntaxError } from "./errors.ts";
