/**
 * The policy simulator behind `POST /v1/sys/policies/simulate`. It builds an EvalContext from
 * the request and asks the same Acl.check that enforces real requests; it has no rule logic of
 * its own, so a simulation cannot disagree with enforcement.
 *
 * @module
 */
import { BadRequest } from "../../lib/errors.ts";
import type { Acl } from "./acl.ts";
import { parseDate } from "./conditions.ts";
import type { EvalContext, Operation } from "./types.ts";
import { parameterViolation } from "./params.ts";
import { hasWrappingBounds, wrappingViolation } from "./wrapping.ts";

export interface SimulateInput {
  /** Request path without "/v1/"; a list request ends in "/". */
  path: string;
  operation: Operation;
  /** Omitted: source_ip conditions cannot be evaluated and deny, as for a real request. */
  remoteAddress?: string;
  /**
   * ISO 8601 instant ("2025-06-02T08:30:00Z") or date ("2025-06-02", midnight UTC); a date-time
   * without an offset is UTC. Default: now.
   */
  time?: string;
  /** Remaining token TTL in seconds, 0 = never expires; omitted: max_ttl cannot be evaluated. */
  tokenTtl?: number;
  /** The path is root-protected, so sudo is required as well. */
  needSudo?: boolean;
  /**
   * The request's data (body, or query for a read), for the rule's allowed/denied/required
   * parameters. Omitted: {} (a rule that requires a parameter then denies).
   */
  data?: Record<string, unknown>;
  /** X-Vault-Wrap-TTL in seconds (0 or omitted: not wrapped), for min/max_wrapping_ttl. */
  wrapTtl?: number;
}

export interface SimulateResult {
  allowed: boolean;
  matched_path: string | null;
  capabilities: string[];
  /** "allowed", or why not: no matching rule, missing capability, deny rule, failed condition. */
  reason: string;
}

const OPERATIONS: ReadonlySet<string> = new Set<Operation>([
  "read",
  "create",
  "update",
  "patch",
  "delete",
  "list",
]);

const ISO_RE =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Parses the simulator's `time`.
 *
 * @throws BadRequest unless it is an ISO 8601 date or date-time.
 */
export function parseSimulationTime(time: string): number {
  let t = typeof time === "string" ? time.trim() : "";
  // ECMAScript reads a date-time without an offset as the *server's* local time; a simulation
  // must not depend on where it runs, so such a time is taken as UTC.
  if (ISO_RE.test(t) && t.length > 10 && !/(?:Z|[+-]\d{2}:?\d{2})$/i.test(t)) t += "Z";
  const ms = ISO_RE.test(t) && realDate(t.slice(0, 10)) ? Date.parse(t.replace(" ", "T")) : NaN;
  if (!Number.isFinite(ms)) {
    throw new BadRequest(
      `invalid time ${JSON.stringify(time)}: use ISO 8601, e.g. 2025-06-02T08:30:00Z`,
    );
  }
  return ms;
}

/**
 * Evaluates one hypothetical request against `acl`.
 *
 * @param now The current time in ms, used when `input.time` is omitted (tests pin it).
 * @throws BadRequest for an unknown operation, a missing path, a bad time or TTL.
 */
export function simulate(acl: Acl, input: SimulateInput, now: number = Date.now()): SimulateResult {
  if (typeof input.path !== "string" || input.path === "") {
    throw new BadRequest("path is required");
  }
  if (!OPERATIONS.has(input.operation)) {
    throw new BadRequest(
      `invalid operation ${JSON.stringify(input.operation)}; use one of ${
        [...OPERATIONS].join(", ")
      }`,
    );
  }
  if (
    input.tokenTtl !== undefined &&
    (typeof input.tokenTtl !== "number" || !Number.isFinite(input.tokenTtl) || input.tokenTtl < 0)
  ) {
    throw new BadRequest("token_ttl must be a non-negative number of seconds (0 = never expires)");
  }
  if (input.remoteAddress !== undefined && typeof input.remoteAddress !== "string") {
    throw new BadRequest("remote_address must be a string");
  }
  const ctx: EvalContext = {
    now: input.time === undefined ? now : parseSimulationTime(input.time),
  };
  if (input.remoteAddress !== undefined && input.remoteAddress !== "") {
    ctx.remoteAddress = input.remoteAddress;
  }
  if (input.tokenTtl !== undefined) ctx.tokenTtl = input.tokenTtl;

  const r = acl.check(input.path, input.operation, input.needSudo === true, ctx);
  // The checks the pipeline makes after the capabilities, in its order: wrapping bounds on every
  // operation, then parameters except on lists and deletes.
  let bad: string | null = null;
  if (r.allowed && r.rule) {
    if (hasWrappingBounds(r.rule)) bad = wrappingViolation(r.rule, input.wrapTtl ?? 0);
    if (!bad && input.operation !== "list" && input.operation !== "delete") {
      bad = parameterViolation(r.rule, input.data ?? {});
    }
  }
  return {
    allowed: r.allowed && bad === null,
    matched_path: r.matchedPath,
    capabilities: [...r.capabilities],
    reason: bad ?? (r.allowed ? "allowed" : r.reason ?? "permission denied"),
  };
}

/** Date.parse rolls 2025-02-30 over into March instead of refusing it. */
function realDate(ymd: string): boolean {
  try {
    parseDate(ymd);
    return true;
  } catch {
    return false;
  }
}
