/**
 * The login source that enrolled an agent ("<auth mount uuid>/<role or user>", as token_store
 * indexes login tokens), asked about as it is now. An agent acts with what that source granted,
 * so it must not outlive the source, and its link follows the source's current policies.
 */
import { NotFound } from "../../lib/errors.ts";
import { sanitizePolicies } from "../../lib/fields.ts";
import type { Core } from "../core.ts";
import { matchPath } from "../router/match.ts";

/**
 * `untracked`: not a login source (a plain token's accessor, revoked by design once the agent
 * has its certificate) or an auth method whose roles this does not know; `gone`: the auth
 * mount or the role/user was deleted; `live`: it exists and grants `policies` to a login now.
 */
export type EnrolmentSource =
  | { state: "untracked" }
  | { state: "gone" }
  | { state: "live"; policies: string[] };

/** Where each auth method keeps what a login is granted (Vault's paths). */
const GRANT_PATHS: Record<string, string> = {
  approle: "role/",
  jwt: "role/",
  userpass: "users/",
};

const LOGIN_SOURCE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?:\/(.*))?$/;

/** Whether `source` (as token_store's revokeSource gets it) names an auth mount or its role. */
export function isLoginSource(source: string): boolean {
  return LOGIN_SOURCE.test(source);
}

/**
 * Reads the role or user behind `source` through its auth method's own read route (no HTTP,
 * ACL or audit: core asking itself), so a role's storage layout stays its method's business.
 */
export async function enrolmentSource(core: Core, source: string): Promise<EnrolmentSource> {
  const m = LOGIN_SOURCE.exec(source);
  const name = m?.[2];
  if (!m || !name || name.includes("/")) return { state: "untracked" };
  const entry = core.auth.list().find((e) => e.uuid === m[1]);
  if (!entry) return { state: "gone" };
  const prefix = GRANT_PATHS[entry.type];
  if (!prefix) return { state: "untracked" };
  const fullPath = `${entry.path}${prefix}${name}`;
  const mount = core.mounts.resolve(fullPath);
  // Detached first when the mount is disabled, then its tokens are revoked.
  if (!mount || mount.entry.uuid !== entry.uuid) return { state: "gone" };
  const hit = matchPath(mount.table, mount.rest);
  const read = hit?.compiled.spec.operations.read;
  if (!hit || !read) return { state: "untracked" };
  let data: Record<string, unknown> | null | undefined;
  try {
    data = (await read({
      operation: "read",
      path: mount.rest,
      params: hit.params,
      data: {},
      remoteAddress: "",
      tokenAccessor: "",
      requestId: crypto.randomUUID(),
      token: null,
      clientToken: "",
      headers: new Headers(),
      fullPath,
    }))?.data;
  } catch (e) {
    if (e instanceof NotFound) return { state: "gone" };
    throw e;
  }
  if (!data) return { state: "gone" };
  return { state: "live", policies: loginPolicies(data) };
}

/** What core's login token gets from a grant: the role's policies, `default` unless left out. */
function loginPolicies(role: Record<string, unknown>): string[] {
  const listed = Array.isArray(role.token_policies)
    ? role.token_policies.filter((p): p is string => typeof p === "string")
    : [];
  const all = role.token_no_default_policy === true ? listed : [...listed, "default"];
  return sanitizePolicies(all).filter((p) => p !== "root");
}
