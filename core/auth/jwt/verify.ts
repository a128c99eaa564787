/**
 * Turns a login's JWT into trusted claims, or into a short reason. Reasons are fixed strings so
 * nothing from the token is echoed back; `counts` says whether the failure is the caller's
 * (it feeds the brute-force limiter) or ours (the key set could not be fetched).
 */
import type { JWTPayload, JWTVerifyOptions } from "jose";
import { failedBoundClaim, mappedClaims, userClaim } from "./claims.ts";
import type { JwtRole } from "./role.ts";
import type { Verifier } from "./keys.ts";

export class LoginFailure extends Error {
  readonly counts: boolean;
  constructor(reason: string, counts = true) {
    super(reason);
    this.counts = counts;
  }
}

const CLAIM_REASONS: Record<string, string> = {
  aud: "audience not allowed",
  iss: "issuer not allowed",
  sub: "subject not allowed",
  nbf: "token not yet valid",
  exp: "token has no valid expiry",
};

export function reasonFor(e: unknown): LoginFailure {
  const { code, claim } = e as { code?: string; claim?: string };
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return new LoginFailure("token expired");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return new LoginFailure(CLAIM_REASONS[claim ?? ""] ?? "claims invalid");
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return new LoginFailure("signature invalid");
    case "ERR_JWKS_NO_MATCHING_KEY":
      return new LoginFailure("unknown key id");
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
      return new LoginFailure("algorithm not allowed");
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
      return new LoginFailure("malformed token");
    default:
      return new LoginFailure("key set unavailable", false);
  }
}

export interface VerifySettings {
  algorithms: string[];
  boundIssuer: string;
  now: number;
}

export interface VerifiedLogin {
  claims: JWTPayload;
  user: string;
  /** From the role's claim_mappings. */
  metadata: Record<string, string>;
}

/** Verified claims, the user claim's value and mapped metadata; throws LoginFailure. */
export async function verifyLogin(
  verifier: Verifier,
  token: string,
  role: JwtRole,
  s: VerifySettings,
): Promise<VerifiedLogin> {
  const opts: JWTVerifyOptions = {
    algorithms: s.algorithms as JWTVerifyOptions["algorithms"],
    audience: role.bound_audiences,
    issuer: s.boundIssuer || undefined,
    subject: role.bound_subject || undefined,
    clockTolerance: role.clock_skew_leeway,
    currentDate: new Date(s.now),
    // A token without expiry would be a credential that never dies.
    requiredClaims: ["exp"],
  };
  let claims: JWTPayload;
  try {
    claims = await verifier.verify(token, opts);
  } catch (e) {
    throw reasonFor(e);
  }
  const bad = failedBoundClaim(claims, role.bound_claims, role.bound_claims_type);
  if (bad !== null) throw new LoginFailure(`claim "${bad}" does not match`);
  const user = userClaim(claims, role.user_claim);
  if ("error" in user) throw new LoginFailure(user.error);
  const mapped = mappedClaims(claims, role.claim_mappings);
  if ("error" in mapped) throw new LoginFailure(mapped.error);
  return { claims, user: user.user, metadata: mapped.metadata };
}
