/** JWT roles: which tokens may log in under a name, and what the resulting token gets. */
import { readJSON, type StorageView, writeJSON } from "../../../engines/sdk.ts";
import { BadRequest } from "../../../lib/errors.ts";
import * as fields from "../../../lib/fields.ts";
import { v } from "../../../lib/fields.ts";
import {
  mergeTokenSettings,
  NO_TOKEN_SETTINGS,
  tokenFieldSchemas,
  type TokenSettings,
  tokenSettingsView,
} from "../userpass/token_fields.ts";

export interface JwtRole extends TokenSettings {
  role_type: "jwt";
  bound_audiences: string[];
  bound_subject: string;
  bound_claims: Record<string, string | string[]>;
  user_claim: string;
  /** Seconds of tolerance on exp/nbf. */
  clock_skew_leeway: number;
}

const claimValue = v.union(
  [v.string(), v.number(), v.boolean(), v.array(v.union([v.string(), v.number(), v.boolean()]))],
  "must be a string or a list of strings",
);

/** Claim → allowed value(s); some clients send the map as a JSON string. */
const boundClaims = v.pipe(
  v.unknown(),
  v.rawTransform<unknown, Record<string, string | string[]>>(({ dataset, addIssue, NEVER }) => {
    let x = dataset.value;
    if (x === null || x === "") return {} as Record<string, string | string[]>;
    if (typeof x === "string") {
      try {
        x = JSON.parse(x);
      } catch {
        addIssue({ message: "must be a map (or its JSON)" });
        return NEVER;
      }
    }
    const parsed = v.safeParse(v.record(v.string(), claimValue), x);
    if (!parsed.success) {
      addIssue({ message: "must map claim names to a string or a list of strings" });
      return NEVER;
    }
    const out: Record<string, string | string[]> = {};
    for (const [k, val] of Object.entries(parsed.output)) {
      out[k] = Array.isArray(val) ? val.map(String) : String(val);
    }
    return out;
  }),
);

export const roleSchema = v.object({
  role_type: v.optional(v.picklist(["jwt"], `only role_type "jwt" is supported`)),
  bound_audiences: v.optional(fields.stringList),
  bound_subject: v.optional(v.string("must be a string")),
  bound_claims: v.optional(boundClaims),
  user_claim: v.optional(v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"))),
  clock_skew_leeway: v.optional(fields.duration),
  ...tokenFieldSchemas,
});

export type RoleInput = v.InferOutput<typeof roleSchema>;

/** Applies a write over the existing role (or the defaults when creating). */
export function mergeRole(prev: JwtRole | null, d: RoleInput): JwtRole {
  const role: JwtRole = {
    ...mergeTokenSettings(prev ?? NO_TOKEN_SETTINGS, d),
    role_type: "jwt",
    bound_audiences: d.bound_audiences ?? prev?.bound_audiences ?? [],
    bound_subject: d.bound_subject ?? prev?.bound_subject ?? "",
    bound_claims: d.bound_claims ?? prev?.bound_claims ?? {} as Record<string, string | string[]>,
    user_claim: d.user_claim ?? prev?.user_claim ?? "sub",
    clock_skew_leeway: d.clock_skew_leeway ?? prev?.clock_skew_leeway ?? 60,
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
    bound_claims_type: "string",
    user_claim: r.user_claim,
    clock_skew_leeway: r.clock_skew_leeway,
    ...tokenSettingsView(r),
  };
}

const PREFIX = "role/";

export class RoleStore {
  readonly #s: StorageView;

  constructor(storage: StorageView) {
    this.#s = storage;
  }

  get(name: string): Promise<JwtRole | null> {
    return readJSON<JwtRole>(this.#s, PREFIX + name);
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
