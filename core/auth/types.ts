/**
 * The contract between the core and an auth method (AppRole, JWT, userpass…). An auth method is
 * a path table like an engine, mounted at `auth/<path>/`; its login paths are unauthenticated.
 * It never creates tokens itself: it asks the core through `issueToken`, so TTL caps, storage by
 * hash, audit and revocation stay in one place.
 */
import type { StorageView } from "../../engines/sdk.ts";
import type { CorePathSpec } from "../router/types.ts";

/** What a successful login grants; the core turns it into a token and Vault's `auth` block. */
export interface LoginGrant {
  /** Role (or user) name within the mount; tokens are indexed by it so deleting it revokes them. */
  role: string;
  policies: string[];
  /** Stored on the token and returned as `auth.metadata` (e.g. `{role_name: "web"}`). */
  metadata: Record<string, string>;
  displayName: string;
  /** Seconds; 0 = the auth mount's default lease TTL (else the system's, 768h). */
  ttl: number;
  /**
   * Seconds; 0 = no cap beyond the auth mount's max lease TTL (else the system max). Renewal
   * never passes it (a method with a LoginRenewHook replaces it with its role's cap as it is at
   * renewal); the token does not show it as explicit_max_ttl (Vault's token_max_ttl).
   */
  maxTtl: number;
  /** Seconds; 0 = none. A hard cap shown as the token's explicit_max_ttl. */
  explicitMaxTtl?: number;
  /** 0 = unlimited. */
  numUses: number;
  /** CIDRs the token may be used from (empty = anywhere). */
  boundCidrs: string[];
  noDefaultPolicy?: boolean;
  /**
   * The login request's path within the mount (Vault's `req.Path`), recorded on the token;
   * default `login`. Token renewal routes to it to find the method's LoginRenewHook, so a login
   * path with parameters (userpass's `login/:username`) must pass it.
   */
  path?: string;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Seconds until the next attempt may succeed (for Retry-After). */
  retryAfter: number;
}

export interface LoginLimiter {
  /** Call before checking credentials; a refusal must be answered 429 with Retry-After. */
  check(source: string, identity: string): RateLimitDecision;
  /** Record a failed attempt (counts toward both limits). */
  fail(source: string, identity: string): void;
  /** Clear the identity's failures after a success. */
  succeed(source: string, identity: string): void;
}

export interface AuthMethodContext {
  /** Encrypted storage private to this mount. */
  storage: StorageView;
  mount: { path: string; accessor: string; uuid: string; type: string };
  now(): number;
  /** Creates the token for a successful login and returns Vault's `auth` block for the reply. */
  issueToken(grant: LoginGrant, remoteAddress: string): Promise<Record<string, unknown>>;
  /** Revokes every live token this mount issued for `role` (role or user deleted). */
  revokeRole(role: string): Promise<void>;
  /** Shared brute-force protection for every login path. */
  limiter: LoginLimiter;
}

export interface AuthMethod {
  type: string;
  paths: CorePathSpec[];
}

/** A login token being renewed, as its auth method needs to see it (Vault's `req.Auth`). */
export interface RenewingLogin {
  /** The role (or user) it was issued for: LoginGrant.role. */
  role: string;
  /** As stored on the token: `default` included unless the grant left it out. */
  policies: readonly string[];
  boundCidrs: readonly string[];
}

/** What the role allows a renewal now, in seconds. */
export interface RenewLimits {
  /** 0 = the auth mount's default lease TTL. */
  ttl: number;
  /** Counted from the token's creation; 0 = no cap beyond the auth mount's max lease TTL. */
  maxTtl: number;
}

/**
 * Vault's login-path renew callback (pathLoginRenew): reloads what the token was issued under
 * and answers with the limits that apply now, or throws (BadRequest) to refuse the renewal —
 * the role is gone or no longer grants what the token holds.
 */
export type LoginRenewHook = (login: RenewingLogin) => Promise<RenewLimits>;

/**
 * Hooks by login path spec. Token renewal routes to the token's login path as Vault routes a
 * RenewOperation there, so the hook lives with the spec: it goes when the mount's table goes,
 * and a second core (or a remount) never sees another's. Kept beside the path table rather
 * than in CorePathSpec because only login paths of auth methods have one.
 */
const LOGIN_RENEW_HOOKS = new WeakMap<CorePathSpec, LoginRenewHook>();

/** Marks `spec` (an auth method's login path) as renewing its tokens through `hook`. */
export function withLoginRenew(spec: CorePathSpec, hook: LoginRenewHook): CorePathSpec {
  LOGIN_RENEW_HOOKS.set(spec, hook);
  return spec;
}

/** The renew hook of a login path spec, if its auth method has one. */
export function loginRenewHook(spec: CorePathSpec): LoginRenewHook | undefined {
  return LOGIN_RENEW_HOOKS.get(spec);
}

export type AuthMethodFactory = (ctx: AuthMethodContext) => AuthMethod;
