/** auth/jwt/login: a role name plus a JWT from a trusted issuer buys a token. */
import { BadRequest, PermissionDenied, TooManyRequests } from "../../../lib/errors.ts";
import { inAnyCidr, parseCidr } from "../../../lib/cidr.ts";
import { v } from "../../../lib/fields.ts";
import { loginIdentity } from "../limiter.ts";
import type { AuthMethodContext } from "../types.ts";
import type { CoreRequest, CoreResponse } from "../../router/types.ts";
import { allowedAlgorithms, type JwtConfig, readConfig } from "./config.ts";
import type { Verifier } from "./keys.ts";
import type { RoleStore } from "./role.ts";
import { tokenParamsGrant } from "../token_fields.ts";
import { LoginFailure, verifyLogin } from "./verify.ts";

export const loginSchema = v.object({
  role: v.optional(v.pipe(v.string("must be a string"), v.maxLength(256, "too long"))),
  /** Kubernetes and CI tokens are a few KiB; the cap bounds parsing work. */
  jwt: v.optional(v.pipe(v.string("must be a string"), v.maxLength(64 * 1024, "too long"))),
});

export interface LoginDeps {
  ctx: AuthMethodContext;
  roles: RoleStore;
  verifierFor(config: JwtConfig): Verifier;
  /**
   * Bumped (after the commit) when a role is deleted, so a login can tell that its role went
   * away while it was minting: the delete's revoke may have run before the token existed.
   */
  roleEpochs: Map<string, number>;
}

export async function login(deps: LoginDeps, req: CoreRequest): Promise<CoreResponse> {
  const { ctx, roles } = deps;
  const d = req.data as v.InferOutput<typeof loginSchema>;
  if (!d.role) throw new BadRequest("missing role");
  if (!d.jwt) throw new BadRequest("missing jwt");
  const source = req.remoteAddress;
  // Guessing a JWT signature is infeasible, so an identity lockout would only let anyone lock a
  // role out for every workload; the identity is counted per source instead.
  const identity = loginIdentity(ctx.mount.uuid, d.role, source);

  const gate = ctx.limiter.check(source, identity);
  if (!gate.allowed) {
    throw new TooManyRequests("too many failed login attempts; try again later", gate.retryAfter);
  }
  const config = await readConfig(ctx.storage);
  if (!config) throw new BadRequest("jwt auth method is not configured");

  try {
    // Taken before the read: a delete that committed before it reads as a missing role, one
    // that commits after it moves the epoch.
    const epoch = deps.roleEpochs.get(d.role) ?? 0;
    const role = await roles.get(d.role);
    if (!role) throw new LoginFailure("unknown role");
    const cidrs = role.token_bound_cidrs;
    if (cidrs.length && !inAnyCidr(cidrs.map(parseCidr), source)) {
      ctx.limiter.fail(source, identity);
      throw new PermissionDenied("login request originated from invalid CIDR");
    }
    const { user, metadata } = await verifyLogin(deps.verifierFor(config), d.jwt, role, {
      algorithms: allowedAlgorithms(config),
      boundIssuer: config.bound_issuer,
      now: ctx.now(),
    });
    ctx.limiter.succeed(source, identity);
    const auth = await ctx.issueToken({
      ...tokenParamsGrant(role),
      role: d.role,
      metadata: { ...metadata, role: d.role, user },
      displayName: `jwt-${user}`.slice(0, 256),
    }, source);
    if ((deps.roleEpochs.get(d.role) ?? 0) !== epoch) {
      // Deleted while this login ran: its revoke may have missed the token just stored.
      await ctx.revokeRole(d.role);
      throw new BadRequest("invalid credentials: unknown role");
    }
    return { auth };
  } catch (e) {
    if (!(e instanceof LoginFailure)) throw e;
    if (e.counts) ctx.limiter.fail(source, identity);
    throw new BadRequest(`invalid credentials: ${e.message}`);
  }
}
