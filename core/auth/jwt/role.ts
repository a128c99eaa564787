/** JWT roles: which tokens may log in under a name, and what the resulting token gets. */
import { readJSON, type StorageView, writeJSON } from "../../../engines/sdk.ts";
import { BadRequest } from "../../../lib/errors.ts";
import { parseDuration } from "../../../lib/duration.ts";
import * as fields from "../../../lib/fields.ts";
import { v } from "../../../lib/fields.ts";
import {
  mergeTokenParams,
  NO_TOKEN_PARAMS,
  type TokenParams,
  tokenParamSchemas,
  tokenParamsView,
} from "../token_fields.ts";
import type { BoundClaimsType } from "./claims.ts";

export interface JwtRole extends TokenParams {
  role_type: "jwt";
  bound_audiences: string[];
  bound_subject: string;
  bound_claims: Record<string, string | string[]>;
  bound_claims_type: BoundClaimsType;
  /** Claim (or JSON pointer) → metadata key on the token. */
  claim_mappings: Record<string, string>;
  user_claim: string;
  /** Seconds of tolerance on exp/nbf, as applied (0 = none); see leewayOf. */
  clock_skew_leeway: number;
}

/** Metadata keys the login itself sets; a claim mapped onto one would overwrite it. */
const RESERVED_METADATA = ["role", "user"];
const MAX_CLAIM_MAPPINGS = 64;

/** Vault's default clock_skew_leeway (go-jose's DefaultLeeway), used when 0 is written. */
const DEFAULT_LEEWAY = 60;

function isMap(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === "object" && !Array.isArray(x);
}

/**
 * A map field as some clients send it: an object, or its JSON in a string. valibot's record
 * takes an array as a map of its indexes, so the shape is checked here first.
 */
function mapInput(x: unknown): Record<string, unknown> | null {
  if (typeof x === "string") {
    try {
      x = JSON.parse(x);
    } catch {
      return null;
    }
  }
  return isMap(x) ? x : null;
}

const claimValue = v.union(
  [v.string(), v.number(), v.boolean(), v.array(v.union([v.string(), v.number(), v.boolean()]))],
  "must be a string or a list of strings",
);

/** Claim → allowed value(s). */
const boundClaims = v.pipe(
  v.unknown(),
  v.rawTransform<unknown, Record<string, string | string[]>>(({ dataset, addIssue, NEVER }) => {
    const x = dataset.value;
    if (x === null || x === "") return {} as Record<string, string | string[]>;
    const map = mapInput(x);
    if (!map) {
      addIssue({ message: "must be a map of claim names to values (or its JSON)" });
      return NEVER;
    }
    const parsed = v.safeParse(v.record(v.string(), claimValue), map);
    if (!parsed.success) {
      addIssue({ message: "must map claim names to a string or a list of strings" });
      return NEVER;
    }
    const out: [string, string | string[]][] = [];
    for (const [k, val] of Object.entries(parsed.output)) {
      out.push([k, Array.isArray(val) ? val.map(String) : String(val)]);
    }
    return Object.fromEntries(out);
  }),
);

/** Claim → metadata key, checked as Vault checks it (no reserved or doubled targets). */
const claimMappings = v.pipe(
  v.unknown(),
  v.rawTransform<unknown, Record<string, string>>(({ dataset, addIssue, NEVER }) => {
    const x = dataset.value;
    if (x === null || x === "") return {} as Record<string, string>;
    const map = mapInput(x);
    if (!map || !Object.values(map).every((t) => typeof t === "string")) {
      addIssue({ message: "must be a map of claim names to metadata keys (or its JSON)" });
      return NEVER;
    }
    const entries = Object.entries(map as Record<string, string>);
    if (entries.length > MAX_CLAIM_MAPPINGS) {
      addIssue({ message: `at most ${MAX_CLAIM_MAPPINGS} mappings` });
      return NEVER;
    }
    const targets = new Set<string>();
    for (const [claim, key] of entries) {
      if (claim === "" || key === "" || claim.length > 256 || key.length > 128) {
        addIssue({
          message: "claim names (up to 256 characters) and metadata keys (up to 128) " +
            "must not be empty",
        });
        return NEVER;
      }
      if (RESERVED_METADATA.includes(key)) {
        addIssue({
          message: `metadata key ${JSON.stringify(key)} is reserved and may not be a mapping ` +
            "destination",
        });
        return NEVER;
      }
      if (targets.has(key)) {
        addIssue({ message: `multiple keys are mapped to metadata key ${JSON.stringify(key)}` });
        return NEVER;
      }
      targets.add(key);
    }
    return Object.fromEntries(entries);
  }),
);

/** Vault's TypeSignedDurationSecond: a duration, or a negative one ("-1" disables leeway). */
const signedDuration = v.pipe(
  v.union([v.string(), v.number()], "must be a duration"),
  v.rawTransform<string | number, number>(({ dataset, addIssue, NEVER }) => {
    const x = dataset.value;
    const text = typeof x === "number" ? String(x) : x.trim();
    const negative = text.startsWith("-");
    try {
      const secs = parseDuration(negative ? text.slice(1) : text);
      return negative ? -secs : secs;
    } catch {
      addIssue({ message: `invalid duration "${String(x)}"` });
      return NEVER;
    }
  }),
);

export const roleSchema = v.looseObject({
  role_type: v.optional(v.picklist(["jwt"], `only role_type "jwt" is supported`)),
  bound_audiences: v.optional(fields.stringList),
  bound_subject: v.optional(v.string("must be a string")),
  bound_claims: v.optional(boundClaims),
  bound_claims_type: v.optional(v.picklist(["string", "glob"], `must be "string" or "glob"`)),
  claim_mappings: v.optional(claimMappings),
  user_claim: v.optional(v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"))),
  // There is nothing to map groups into: accepting one would pretend they were used.
  groups_claim: v.optional(
    v.pipe(
      v.string("must be a string"),
      v.value("", "is not supported: there is no identity store to map groups into"),
    ),
  ),
  clock_skew_leeway: v.optional(signedDuration),
  ...tokenParamSchemas,
});

export type RoleInput = v.InferOutput<typeof roleSchema>;

/**
 * Vault's reading of clock_skew_leeway: 0 means the default (60 s), a negative value none. The
 * role keeps the seconds that apply, so a role stored before this reading keeps its meaning.
 */
function leewayOf(written: number): number {
  if (written < 0) return 0;
  return written === 0 ? DEFAULT_LEEWAY : written;
}

/** Applies a write over the existing role (or the defaults when creating). */
export function mergeRole(prev: JwtRole | null, d: RoleInput): JwtRole {
  const role: JwtRole = {
    ...mergeTokenParams(prev ?? NO_TOKEN_PARAMS, d),
    role_type: "jwt",
    bound_audiences: d.bound_audiences ?? prev?.bound_audiences ?? [],
    bound_subject: d.bound_subject ?? prev?.bound_subject ?? "",
    bound_claims: d.bound_claims ?? prev?.bound_claims ?? {} as Record<string, string | string[]>,
    bound_claims_type: d.bound_claims_type ?? prev?.bound_claims_type ?? "string",
    claim_mappings: d.claim_mappings ?? prev?.claim_mappings ?? {} as Record<string, string>,
    user_claim: d.user_claim ?? prev?.user_claim ?? "sub",
    clock_skew_leeway: d.clock_skew_leeway !== undefined
      ? leewayOf(d.clock_skew_leeway)
      : prev?.clock_skew_leeway ?? DEFAULT_LEEWAY,
  };
  // An audience-less role would accept any token the issuer ever minted for anyone.
  if (role.bound_audiences.length === 0) throw new BadRequest("missing bound_audiences");
  return role;
}

export function roleView(r: JwtRole): Record<string, unknown> {
  return {
    role_type: r.role_type,
    bound_audiences: r.bound_audiences,
    bound_subject: r.bound_subject,
    bound_claims: r.bound_claims,
    bound_claims_type: r.bound_claims_type,
    claim_mappings: r.claim_mappings,
    user_claim: r.user_claim,
    groups_claim: "",
    // -1 for none, so that writing back what was read keeps it (0 would mean the default).
    clock_skew_leeway: r.clock_skew_leeway === 0 ? -1 : r.clock_skew_leeway,
    ...tokenParamsView(r),
  };
}

const PREFIX = "role/";

export class RoleStore {
  readonly #s: StorageView;

  constructor(storage: StorageView) {
    this.#s = storage;
  }

  async get(name: string): Promise<JwtRole | null> {
    const stored = await readJSON<Partial<JwtRole>>(this.#s, PREFIX + name);
    if (!stored) return null;
    // A role stored before a field existed takes that field's default.
    return {
      ...NO_TOKEN_PARAMS,
      bound_claims_type: "string",
      claim_mappings: {},
      ...stored,
    } as JwtRole;
  }

  put(name: string, r: JwtRole): Promise<void> {
    return writeJSON(this.#s, PREFIX + name, r);
  }

  delete(name: string): Promise<void> {
    return this.#s.delete(PREFIX + name);
  }

  async list(): Promise<string[]> {
    return (await this.#s.list(PREFIX)).filter((k) => !k.endsWith("/")).sort();
  }
}
