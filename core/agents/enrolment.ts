/**
 * The login source that enrolled an agent ("<auth mount uuid>/<role or user>", as token_store
 * indexes login tokens), asked about as it is now. An agent acts with what that source granted,
 * so it must not outlive the source, and its link follows the source's current policies.
 */
import { grantedPolicies } from "../auth/token_fields.ts";
import type { Core } from "../core.ts";

/**
 * `untracked`: not a login source (a plain token's accessor, revoked by design once the agent
 * has its certificate) or an auth method whose roles this does not know; `gone`: the auth
 * mount or the role/user was deleted; `live`: it exists and grants `policies` to a login now.
 */
export type EnrolmentSource =
  | { state: "untracked" }
  | { state: "gone" }
  | { state: "live"; policies: string[] };

const LOGIN_SOURCE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\/(.*))?$/;

/** Whether `source` (as token_store's revokeSource gets it) names an auth mount or its role. */
export function isLoginSource(source: string): boolean {
  return LOGIN_SOURCE.test(source);
}

/** The role or user behind `source`, as its auth method's login records hold it now. */
export async function enrolmentSource(core: Core, source: string): Promise<EnrolmentSource> {
  const m = LOGIN_SOURCE.exec(source);
  const name = m?.[2];
  if (!m || !name || name.includes("/")) return { state: "untracked" };
  // Null once the auth mount is gone, or detached while it is being disabled.
  const found = core.auth.loginRecords(m[1]!);
  if (!found) return { state: "gone" };
  if (!found.records) return { state: "untracked" };
  const record = await found.records.read(name);
  if (!record) return { state: "gone" };
  return { state: "live", policies: grantedPolicies(record).filter((p) => p !== "root") };
}
