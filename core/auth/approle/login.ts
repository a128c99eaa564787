/**
 * POST login. Every failure is the same 400 and costs the same work: both HMACs are computed and
 * the same three storage reads happen whether or not the role-id exists, and every check is
 * evaluated without an early exit, so neither the message nor the timing tells a caller which
 * part of the credential was wrong.
 */
import { BadRequest, TooManyRequests } from "../../../lib/errors.ts";
import { inAnyCidr, parseCidr } from "../../../lib/cidr.ts";
import { constantTimeEqual } from "../../../lib/crypto.ts";
import type { CoreRequest, CoreResponse } from "../../router/types.ts";
import type { LoginGrant } from "../types.ts";
import { type AppRoleDeps, lockKeys } from "./deps.ts";
import { effectiveMaxTtl, type Role } from "./role.ts";
import { isExpired, type SecretIdEntry } from "./secret_id.ts";

/** Not a valid role name, so its storage keys never exist: the stand-in for an unknown role-id. */
const NO_ROLE = "!none";
/** Compared against when there is no entry, so the comparison still runs. */
const NO_HMAC = "0".repeat(64);

export const INVALID = "invalid credentials";

function cidrOk(cidrs: string[], address: string): boolean {
  return cidrs.length === 0 || inAnyCidr(cidrs.map(parseCidr), address);
}

/** All of the checks, each one always evaluated. */
function accepts(
  role: Role | null,
  roleId: string,
  entry: SecretIdEntry | null,
  secretHmac: string,
  address: string,
  now: number,
): boolean {
  const r = role ?? undefined;
  let ok = r !== undefined;
  ok = constantTimeEqual(r?.role_id ?? "", roleId) && ok;
  const bind = r?.bind_secret_id ?? true;
  const secretOk = constantTimeEqual(entry?.hmac ?? NO_HMAC, secretHmac) && entry !== null &&
    !isExpired(entry, now);
  ok = (secretOk || !bind) && ok;
  ok = cidrOk(r?.secret_id_bound_cidrs ?? [], address) && ok;
  ok = (!bind || cidrOk(entry?.cidr_list ?? [], address)) && ok;
  // The token would be unusable from here anyway; refusing now keeps a role that has only
  // token_bound_cidrs as its constraint from being a role-id-only login from anywhere.
  ok = cidrOk(tokenCidrs(r, bind ? entry : null), address) && ok;
  return ok;
}

function tokenCidrs(role: Role | undefined, entry: SecretIdEntry | null): string[] {
  return entry?.token_bound_cidrs.length ? entry.token_bound_cidrs : role?.token_bound_cidrs ?? [];
}

export function loginHandler(deps: AppRoleDeps): (req: CoreRequest) => Promise<CoreResponse> {
  const { ctx, store, locks } = deps;
  return async (req) => {
    const { role_id: roleId, secret_id: secretId } = req.data as {
      role_id: string;
      secret_id: string;
    };
    const source = req.remoteAddress;
    const decision = ctx.limiter.check(source, roleId);
    if (!decision.allowed) {
      throw new TooManyRequests("too many login attempts", decision.retryAfter);
    }

    const h = await store.hasher();
    const secretHmac = h.secretId(secretId);
    const name = await store.roleIdOwner(h.roleId(roleId)) ?? NO_ROLE;
    const role = await store.role(name);
    // Taken with no await after the read: a deletion that committed before it is seen as a
    // missing role, one that commits after it bumps the epoch.
    const epoch = deps.roleEpochs.get(name) ?? 0;

    // Read, check and consume one use as one step per secret-id: two logins with a single-use
    // secret-id must not both see it unused.
    const used = await locks.run(lockKeys.secret(secretHmac), async () => {
      const entry = await store.secret(name, secretHmac);
      if (!accepts(role, roleId, entry, secretHmac, source, ctx.now()) || !role) return null;
      if (!role.bind_secret_id) return { role, entry: null };
      const e = entry!;
      if (e.num_uses === 1) {
        await store.storage.batch(store.deleteSecretOps(name, e));
      } else if (e.num_uses > 1) {
        const next = { ...e, num_uses: e.num_uses - 1, last_updated_time: ctx.now() };
        await store.storage.batch(store.putSecretOps(name, next));
      }
      return { role, entry: e };
    });
    if (!used) {
      ctx.limiter.fail(source, roleId);
      throw new BadRequest(INVALID);
    }
    ctx.limiter.succeed(source, roleId);

    const { role: r, entry } = used;
    const grant: LoginGrant = {
      role: r.name,
      policies: r.token_policies,
      // Vault hands the secret-id's metadata to the token; role_name always wins.
      metadata: { ...entry?.metadata, role_name: r.name },
      displayName: "approle",
      ttl: r.token_ttl,
      maxTtl: effectiveMaxTtl(r),
      numUses: r.token_num_uses,
      boundCidrs: tokenCidrs(r, entry),
      noDefaultPolicy: r.token_no_default_policy,
    };
    const auth = await ctx.issueToken(grant, source);

    // A role deleted while this login was in flight has already had its tokens revoked; the one
    // just issued would outlive it, so revoke again.
    if ((deps.roleEpochs.get(r.name) ?? 0) !== epoch) {
      await ctx.revokeRole(r.name);
      throw new BadRequest(INVALID);
    }
    return { auth };
  };
}
