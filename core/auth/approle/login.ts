/**
 * POST login. Every failure is the same 400 and costs the same work: both HMACs are computed and
 * the same three storage reads happen whether or not the role-id exists, and every check is
 * evaluated without an early exit, so neither the message nor the timing tells a caller which
 * part of the credential was wrong. Only a success can be cheaper: a reusable credential that
 * logged in before, with nothing in the mount written since, is checked against what was read
 * then (login_cache.ts), and anything that check refuses goes the full way.
 */
import { BadRequest, TooManyRequests } from "../../../lib/errors.ts";
import { inAnyCidr, parseCidr } from "../../../lib/cidr.ts";
import { constantTimeEqual } from "../../../lib/crypto.ts";
import type { CoreRequest, CoreResponse } from "../../router/types.ts";
import type { LoginGrant } from "../types.ts";
import { tokenParamsGrant } from "../token_fields.ts";
import { loginIdentity } from "../limiter.ts";
import { type AppRoleDeps, lockKeys } from "./deps.ts";
import type { Role } from "./role.ts";
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

/** Reusable: nothing to spend on a login, so what was read can serve the next one as is. */
function reusable(role: Readonly<Role>, entry: Readonly<SecretIdEntry> | null): boolean {
  return !role.bind_secret_id || entry?.num_uses === 0;
}

export function loginHandler(deps: AppRoleDeps): (req: CoreRequest) => Promise<CoreResponse> {
  const { ctx, store, locks, loginCache } = deps;

  /** Mints the token for an accepted login. */
  const issue = (r: Readonly<Role>, entry: Readonly<SecretIdEntry> | null, source: string) => {
    const grant: LoginGrant = {
      ...tokenParamsGrant(r),
      role: r.name,
      // Copies: a cached role is frozen and shared by every login that hits it; each token
      // gets lists of its own.
      policies: [...r.token_policies],
      // Vault hands the secret-id's metadata to the token; role_name always wins.
      metadata: { ...entry?.metadata, role_name: r.name },
      displayName: "approle",
      boundCidrs: [...tokenCidrs(r, entry)],
    };
    return ctx.issueToken(grant, source);
  };

  return async (req) => {
    const { role_id: roleId, secret_id: secretId } = req.data as {
      role_id: string;
      secret_id: string;
    };
    const source = req.remoteAddress;
    // Counted per mount: a role-id tried here never touches another mount's (or method's) count.
    const identity = loginIdentity(ctx.mount.uuid, roleId);
    const decision = ctx.limiter.check(source, identity);
    if (!decision.allowed) {
      throw new TooManyRequests("too many login attempts", decision.retryAfter);
    }

    const h = await store.hasher();
    const secretHmac = h.secretId(secretId);
    const roleIdHmac = h.roleId(roleId);

    // A reusable credential that logged in before, with nothing in the mount written since:
    // the same checks on what was read then. Anything it does not accept takes the full path
    // below, so a failure costs the same work however it fails.
    const hit = loginCache.get(roleIdHmac, secretHmac);
    if (hit && accepts(hit.role, roleId, hit.entry, secretHmac, source, ctx.now())) {
      ctx.limiter.succeed(source, identity);
      const epoch = deps.roleEpochs.get(hit.name) ?? 0;
      return { auth: await checkedRole(hit.name, epoch, issue(hit.role, hit.entry, source)) };
    }

    const cacheEpoch = loginCache.epoch;
    const name = await store.roleIdOwner(roleIdHmac) ?? NO_ROLE;
    const role = await store.role(name);
    // Taken with no await after the read: a deletion that committed before it is seen as a
    // missing role, one that commits after it bumps the epoch.
    const epoch = deps.roleEpochs.get(name) ?? 0;

    // Read, check and spend one use as one step per secret-id: two logins with a single-use
    // secret-id must not both see it unused.
    const used = await locks.run(lockKeys.secret(secretHmac), async () => {
      const entry = await store.secret(name, secretHmac);
      if (!accepts(role, roleId, entry, secretHmac, source, ctx.now()) || !role) return null;
      const e = role.bind_secret_id ? entry! : null;
      // The spent use is queued before the token's write, so both land in one commit or in
      // order (storage fails everything queued behind a failed commit, so no token outlives a
      // use that was not recorded). The lock is held until the use is durable; minting goes on
      // after it is released.
      const spent = e && e.num_uses > 0 ? spend(name, e) : null;
      const minted = issue(role, e, source);
      minted.catch(() => {}); // awaited below; this only keeps it from surfacing unhandled
      await spent;
      return { role, entry: e, minted };
    });
    if (!used) {
      ctx.limiter.fail(source, identity);
      throw new BadRequest(INVALID);
    }
    ctx.limiter.succeed(source, identity);
    const auth = await checkedRole(name, epoch, used.minted);
    if (reusable(used.role, used.entry)) {
      loginCache.set(roleIdHmac, secretHmac, cacheEpoch, {
        name,
        role: used.role,
        entry: used.entry,
      });
    }
    return { auth };
  };

  function spend(name: string, e: SecretIdEntry): Promise<void> {
    if (e.num_uses === 1) return store.storage.batch(store.deleteSecretOps(name, e));
    const next = { ...e, num_uses: e.num_uses - 1, last_updated_time: ctx.now() };
    return store.storage.batch(store.putSecretOps(name, next));
  }

  /**
   * A role deleted while this login was in flight has already had its tokens revoked; the one
   * just issued would outlive it, so revoke again.
   */
  async function checkedRole(
    name: string,
    epoch: number,
    minted: Promise<Record<string, unknown>>,
  ): Promise<Record<string, unknown>> {
    const auth = await minted;
    if ((deps.roleEpochs.get(name) ?? 0) !== epoch) {
      await ctx.revokeRole(name);
      throw new BadRequest(INVALID);
    }
    return auth;
  }
}
