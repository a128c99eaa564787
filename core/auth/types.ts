/**
 * The contract between the core and an auth method (AppRole, JWT, userpass…). An auth method is
 * a path table like an engine, mounted at `auth/<path>/`; its login paths are unauthenticated.
 * It never creates tokens itself: it asks the core through `issueToken`, so TTL caps, storage by
 * hash, audit and revocation stay in one place.
 */
import type { StorageView } from "../../engines/sdk.ts";
import type { CorePathSpec } from "../router/types.ts";
import type { TokenParams } from "./token_fields.ts";
import { tokenParamsRenewal } from "./token_renew.ts";

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
 * The records an auth method grants logins from (roles, users), as they are now: what token
 * renewal (Vault's pathLoginRenew) and agent enrolment re-check a login's grant against.
 */
export interface LoginRecords {
  /** Names the record in errors: "role" or "user". */
  kind: "role" | "user";
  /** The record a login under `name` (LoginGrant.role) is granted by now; null once it is gone. */
  read(name: string): Promise<TokenParams | null>;
}

/**
 * Records by login path spec: they go when the mount's table goes, and a second core (or a
 * remount) never sees another's. Kept beside the path table rather than in CorePathSpec because
 * only login paths of auth methods have them.
 */
const LOGIN_RECORDS = new WeakMap<CorePathSpec, LoginRecords>();

/** Marks `spec` (an auth method's login path) as granting logins from `records`. */
export function withLoginRecords(spec: CorePathSpec, records: LoginRecords): CorePathSpec {
  LOGIN_RECORDS.set(spec, records);
  return spec;
}

/** The login records of a login path spec, if its auth method keeps any. */
export function loginRecords(spec: CorePathSpec): LoginRecords | undefined {
  return LOGIN_RECORDS.get(spec);
}

/** The renewal check of a login path spec: its record as it is now, or a refusal. */
export function loginRenewHook(spec: CorePathSpec): LoginRenewHook | undefined {
  const r = LOGIN_RECORDS.get(spec);
  return r && (async (login) => tokenParamsRenewal(await r.read(login.role), login, r.kind));
}

export type AuthMethodFactory = (ctx: AuthMethodContext) => AuthMethod;
