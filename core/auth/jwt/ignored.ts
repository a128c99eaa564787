/** Vault's warning for body keys an endpoint does not know (it ignores them, and says so). */
import { v } from "../../../lib/fields.ts";

/**
 * The warning for the keys of `data` that `schema` (a loose object schema, so that they reach
 * the handler) has no entry for, or undefined when there are none.
 */
export function ignoredParamsWarning(
  data: Record<string, unknown>,
  schema: v.LooseObjectSchema<v.ObjectEntries, undefined>,
): string[] | undefined {
  const ignored = Object.keys(data).filter((k) => !Object.hasOwn(schema.entries, k)).sort();
  if (!ignored.length) return undefined;
  return [`Endpoint ignored these unrecognized parameters: [${ignored.join(" ")}]`];
}
