/**
 * Userpass login. Unknown users and wrong passwords get the same error after the same scrypt
 * work; the limiter is consulted before any of it, so guessing is throttled per address and
 * per user (with lockout).
 */
import { BadRequest, PermissionDenied, TooManyRequests } from "../../../lib/errors.ts";
import { inAnyCidr, parseCidr } from "../../../lib/cidr.ts";
import type { AuthMethodContext } from "../types.ts";
import type { CoreRequest, CoreResponse } from "../../router/types.ts";
import { DEFAULT_PARAMS, dummyHash, hashPassword, verifyPassword } from "./password.ts";
import { normalizeUsername, type UserStore } from "./users.ts";

export const INVALID_CREDENTIALS = "invalid credentials";

export async function login(
  ctx: AuthMethodContext,
  users: UserStore,
  req: CoreRequest,
): Promise<CoreResponse> {
  const username = normalizeUsername(req.params.username ?? "");
  const { password } = req.data as { password?: string };
  if (password === undefined) throw new BadRequest("missing password");
  const source = req.remoteAddress;
  const identity = `userpass:${username}`;

  const gate = ctx.limiter.check(source, identity);
  if (!gate.allowed) {
    throw new TooManyRequests("too many failed login attempts; try again later", gate.retryAfter);
  }
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
  await upgradeHash(users, username, password);

  const auth = await ctx.issueToken({
    role: username,
    policies: user.token_policies,
    metadata: { username },
    displayName: `userpass-${username}`,
    ttl: user.token_ttl,
    maxTtl: user.token_max_ttl,
    numUses: 0,
    boundCidrs: cidrs,
  }, source);
  return { auth };
}

/** Re-hashes with the current parameters once the password is known to be right. */
async function upgradeHash(users: UserStore, username: string, password: string): Promise<void> {
  const u = await users.get(username);
  if (!u) return;
  const h = u.password_hash;
  const p = DEFAULT_PARAMS;
  if (h.n === p.n && h.r === p.r && h.p === p.p) return;
  await users.put(username, { ...u, password_hash: await hashPassword(password) });
}
