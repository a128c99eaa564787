/**
 * Userpass login. Unknown users and wrong passwords get the same error after the same scrypt
 * work; the limiter is consulted before any of it, so guessing is throttled per address and
 * per user of this mount (with lockout).
 */
import { BadRequest, PermissionDenied, TooManyRequests } from "../../../lib/errors.ts";
import { inAnyCidr, parseCidr } from "../../../lib/cidr.ts";
import type { KeyedLock } from "../approle/lock.ts";
import { loginIdentity } from "../limiter.ts";
import type { AuthMethodContext } from "../types.ts";
import type { CoreRequest, CoreResponse } from "../../router/types.ts";
import {
  DEFAULT_PARAMS,
  dummyHash,
  hashPassword,
  type PasswordHash,
  verifyPassword,
} from "./password.ts";
import { tokenParamsGrant } from "../token_fields.ts";
import { normalizeUsername, type UserStore } from "./users.ts";

export const INVALID_CREDENTIALS = "invalid credentials";

export interface UserpassDeps {
  ctx: AuthMethodContext;
  users: UserStore;
  /**
   * Held (per username) by every read-modify-write of a user record, so a password change and a
   * policy change cannot undo each other. Never held across scrypt.
   */
  locks: KeyedLock;
  /**
   * Bumped (after the commit) when a user is deleted, so a login can tell that its user went
   * away while it was minting: the delete's revoke may have run before the token existed.
   */
  epochs: Map<string, number>;
}

export function bumpUserEpoch(deps: Pick<UserpassDeps, "epochs">, name: string): void {
  deps.epochs.set(name, (deps.epochs.get(name) ?? 0) + 1);
}

export async function login(deps: UserpassDeps, req: CoreRequest): Promise<CoreResponse> {
  const { ctx, users } = deps;
  const username = normalizeUsername(req.params.username ?? "");
  const { password } = req.data as { password?: string };
  if (password === undefined) throw new BadRequest("missing password");
  const source = req.remoteAddress;
  const identity = loginIdentity(ctx.mount.uuid, username);

  const gate = ctx.limiter.check(source, identity);
  if (!gate.allowed) {
    throw new TooManyRequests("too many failed login attempts; try again later", gate.retryAfter);
  }
  // Taken before the read: a delete that committed before it reads as a missing user, one that
  // commits after it moves the epoch.
  const epoch = deps.epochs.get(username) ?? 0;
  const user = await users.get(username);
  const ok = await verifyPassword(password, user?.password_hash ?? await dummyHash());
  if (!user || !ok) {
    ctx.limiter.fail(source, identity);
    throw new BadRequest(INVALID_CREDENTIALS);
  }
  const cidrs = user.token_bound_cidrs;
  if (cidrs.length && !inAnyCidr(cidrs.map(parseCidr), source)) {
    ctx.limiter.fail(source, identity);
    throw new PermissionDenied("login request originated from invalid CIDR");
  }
  ctx.limiter.succeed(source, identity);
  await upgradeHash(deps, username, password, user.password_hash);

  const auth = await ctx.issueToken({
    ...tokenParamsGrant(user),
    role: username,
    metadata: { username },
    displayName: `userpass-${username}`,
    // Vault's token path: token renewal finds this method's renew hook by it.
    path: req.path,
  }, source);
  if ((deps.epochs.get(username) ?? 0) !== epoch) {
    // Deleted while this login ran: its revoke may have missed the token just stored.
    await ctx.revokeRole(username);
    throw new BadRequest(INVALID_CREDENTIALS);
  }
  return { auth };
}

function sameHash(a: PasswordHash, b: PasswordHash): boolean {
  return a.salt === b.salt && a.hash === b.hash;
}

/**
 * Re-hashes with the current parameters once the password is known to be right. The hash is
 * computed outside the user's lock; it is stored only if the record still holds the hash just
 * verified, so a password changed meanwhile is not set back, and only that field is written.
 */
async function upgradeHash(
  deps: UserpassDeps,
  username: string,
  password: string,
  verified: PasswordHash,
): Promise<void> {
  const p = DEFAULT_PARAMS;
  if (verified.n === p.n && verified.r === p.r && verified.p === p.p) return;
  const upgraded = await hashPassword(password);
  await deps.locks.run(username, async () => {
    const u = await deps.users.get(username);
    if (!u || !sameHash(u.password_hash, verified)) return;
    await deps.users.put(username, { ...u, password_hash: upgraded });
  });
}
