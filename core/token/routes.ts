/** auth/token/*: Vault's token backend as a path table over the TokenStore. */
import { BadRequest, PermissionDenied } from "../../lib/errors.ts";
import { formatDuration } from "../../lib/duration.ts";
import * as fields from "../../lib/fields.ts";
import { v } from "../../lib/fields.ts";
import type { Core } from "../core.ts";
import type { CorePathSpec, CoreRequest, CoreResponse } from "../router/types.ts";
import { type LoginRenewal, SYSTEM_MAX_TTL, type TokenEntry, tokenId } from "./token_store.ts";
import { evalContext } from "../http/pipeline.ts";
import { tokenParamsRenewal } from "../auth/token_renew.ts";

const createSchema = v.object({
  id: v.optional(v.string()),
  /** Lowercased and trimmed, as Vault's SanitizePolicies does: names are case-insensitive. */
  policies: v.optional(fields.policyList),
  meta: v.optional(fields.weakStringMap),
  no_parent: v.optional(fields.bool),
  no_default_policy: v.optional(fields.bool),
  renewable: v.optional(fields.bool),
  ttl: v.optional(fields.duration),
  explicit_max_ttl: v.optional(fields.duration),
  display_name: v.optional(v.pipe(v.string(), v.maxLength(256))),
  num_uses: v.optional(fields.nonNegInt),
  type: v.optional(v.picklist(["service", "default"], "only service tokens are supported")),
  period: v.optional(fields.duration),
  role_name: v.optional(v.string()),
  entity_alias: v.optional(v.string()),
});

const tokenSchema = v.object({ token: v.optional(v.string()) });
const accessorSchema = v.object({ accessor: v.optional(v.string()) });
const renewSchema = v.object({
  token: v.optional(v.string()),
  accessor: v.optional(v.string()),
  increment: v.optional(fields.duration),
});

export function tokenData(core: Core, e: TokenEntry, clearId = ""): Record<string, unknown> {
  return {
    accessor: e.accessor,
    creation_time: e.creation_time,
    creation_ttl: e.creation_ttl,
    display_name: e.display_name,
    entity_id: "",
    expire_time: e.expire_time ? new Date(e.expire_time).toISOString() : null,
    explicit_max_ttl: e.explicit_max_ttl,
    id: clearId,
    issue_time: new Date(e.creation_time * 1000).toISOString(),
    meta: e.meta,
    num_uses: e.num_uses,
    orphan: e.orphan,
    path: e.path,
    policies: e.policies,
    renewable: e.renewable,
    ttl: core.tokens.ttlOf(e),
    type: e.type,
    // Vault's lookup names the CIDRs a token is bound to, and leaves the key out when none.
    ...(e.bound_cidrs?.length ? { bound_cidrs: e.bound_cidrs } : {}),
    ...(e.last_renewal_time
      ? {
        last_renewal_time: Math.floor(e.last_renewal_time / 1000),
        last_renewal: new Date(e.last_renewal_time).toISOString(),
      }
      : {}),
  };
}

export function authBlock(core: Core, token: string, e: TokenEntry): Record<string, unknown> {
  return {
    client_token: token,
    accessor: e.accessor,
    policies: e.policies,
    token_policies: e.policies,
    metadata: e.meta,
    lease_duration: core.tokens.ttlOf(e),
    renewable: e.renewable,
    entity_id: "",
    token_type: "service",
    orphan: e.orphan,
    mfa_requirement: null,
    num_uses: e.num_uses,
  };
}

/**
 * Vault's warning when a requested TTL was cut down (system or explicit max, or the parent's
 * remaining life): a client that asked for more learns it got less without reading auth back.
 */
function cappedWarning(asked: number | undefined, granted: number): string[] | undefined {
  if (!asked || asked <= 0 || granted <= 0 || granted >= asked) return undefined;
  return [
    `TTL of "${formatDuration(asked)}" exceeded the effective max_ttl of "${
      formatDuration(granted)
    }"; TTL value is capped accordingly`,
  ];
}

/** renew() sets last_renewal_time to the moment it computed the new expiry from. */
function renewWarning(increment: number | undefined, e: TokenEntry): string[] | undefined {
  const granted = Math.round((e.expire_time - (e.last_renewal_time ?? 0)) / 1000);
  return cappedWarning(increment, granted);
}

/**
 * Vault's RenewToken for a token a login issued: the renewal is routed to the login path it
 * came from, whose auth method reloads the role and refuses or limits the renewal. The limits
 * get the auth mount's default and max as tuned now, as a login would (core's
 * #issueLoginToken). Undefined for tokens no auth method with a renew hook issued.
 */
export async function loginRenewal(core: Core, e: TokenEntry): Promise<LoginRenewal | undefined> {
  // A login token's source is "<auth mount uuid>/<role>".
  const slash = e.source?.indexOf("/") ?? -1;
  if (!e.source || slash < 0) return undefined;
  const uuid = e.source.slice(0, slash);
  // Found by the token's source, not by the login path it records: a token issued before
  // userpass recorded `login/<name>` has plain `login`, and must not renew unchecked.
  const found = core.auth.loginRecords(uuid);
  if (!found?.records) return undefined;
  const { entry: mount, records } = found;
  const role = e.source.slice(slash + 1);
  const limits = tokenParamsRenewal(await records.read(role), {
    role,
    policies: e.policies,
    boundCidrs: e.bound_cidrs ?? [],
  }, records.kind);
  const mountMax = Math.min(mount.config.max_lease_ttl || SYSTEM_MAX_TTL, SYSTEM_MAX_TTL);
  return {
    ttl: limits.ttl > 0 ? limits.ttl : mount.config.default_lease_ttl || SYSTEM_MAX_TTL,
    maxTtl: limits.maxTtl > 0 ? Math.min(limits.maxTtl, mountMax) : mountMax,
  };
}

/**
 * A child token's policies, as Vault's handleCreateCommon picks them. None asked (absent, [] or
 * "") means the parent's, `default` only if the parent has it. Otherwise a caller without root
 * or sudo may only name policies it holds (`default` included: a parent made without it cannot
 * hand it out), and gets `default` added only if it has it; root or sudo may name any.
 * no_default_policy removes `default` whichever way it came.
 */
export function childPolicies(
  parentPolicies: readonly string[],
  asked: readonly string[],
  isSudo: boolean,
  noDefault = false,
): string[] {
  // A token stored before names were lowercased may carry mixed case: compare sanitized.
  const held = fields.sanitizePolicies(parentPolicies);
  let out: string[];
  if (asked.length === 0) out = held;
  else if (isSudo) out = [...asked, "default"];
  else {
    if (asked.some((p) => !held.includes(p))) {
      throw new BadRequest("child policies must be subset of parent");
    }
    out = held.includes("default") ? [...asked, "default"] : [...asked];
  }
  // root stands alone: Vault adds nothing to it.
  if (out.includes("root")) out = out.filter((p) => p !== "default" || asked.includes(p));
  if (noDefault) out = out.filter((p) => p !== "default");
  return fields.sanitizePolicies(out);
}

/**
 * Vault's displayNameSanitize: after the "token-" prefix, anything but [a-zA-Z0-9-] becomes "-"
 * (one per code point), and one trailing "-" is cut (Go's TrimSuffix, not TrimRight).
 */
export function tokenDisplayName(name: string | undefined): string {
  if (!name) return "token";
  return `token-${name}`.replace(/[^a-zA-Z0-9-]/gu, "-").replace(/-$/, "");
}

export function tokenRoutes(core: Core): CorePathSpec[] {
  const create = async (r: CoreRequest, orphan: boolean): Promise<CoreResponse> => {
    const d = r.data as v.InferOutput<typeof createSchema>;
    const parent = r.token!;
    const parentIsRoot = parent.policies.includes("root");
    if (d.role_name) throw new BadRequest("token roles are not supported");
    if (d.period !== undefined) throw new BadRequest("periodic tokens are not supported");
    // num_uses is what is left after this request: LAST_USE_PENDING (-1) on the last use.
    if (parent.num_uses !== 0) {
      throw new BadRequest("limited-use tokens cannot create child tokens");
    }
    // Vault acts on id only when it is non-empty: "" asks for a generated token, like no id.
    const id = d.id === "" ? undefined : d.id;
    // Vault's isSudo: root, or sudo on this path. It lifts the subset rule on policies too.
    const isSudo = parentIsRoot ||
      (await core.policies.acl(parent.policies))
        .check(r.fullPath, "update", true, evalContext(core, r)).allowed;
    if ((id !== undefined || (d.no_parent && !orphan)) && !isSudo) {
      throw new PermissionDenied("root or sudo privileges required to set id or no_parent");
    }
    const policies = childPolicies(parent.policies, d.policies ?? [], isSudo, d.no_default_policy);
    if (policies.includes("root") && !parentIsRoot) {
      // sudo on auth/token/create must not be a way to mint root tokens.
      throw new BadRequest("root tokens may not be created without parent token being root");
    }
    if (policies.length === 0) throw new BadRequest("token must have at least one policy");
    if (policies.includes(fields.RESPONSE_WRAPPING_POLICY)) {
      throw new BadRequest(`cannot assign policy "${fields.RESPONSE_WRAPPING_POLICY}"`);
    }
    const { token, entry } = await core.tokens.create({
      id,
      policies,
      parent: orphan || d.no_parent ? null : parent,
      meta: d.meta,
      displayName: tokenDisplayName(d.display_name),
      numUses: d.num_uses,
      ttl: d.ttl,
      explicitMaxTtl: d.explicit_max_ttl,
      renewable: d.renewable,
      path: orphan ? "auth/token/create-orphan" : "auth/token/create",
    });
    const warnings = cappedWarning(d.ttl, entry.creation_ttl) ?? [];
    if (d.explicit_max_ttl && d.explicit_max_ttl > SYSTEM_MAX_TTL) {
      warnings.push(
        `Explicit max TTL of ${d.explicit_max_ttl} seconds is greater than system/mount allowed value; value is being capped to ${SYSTEM_MAX_TTL} seconds`,
      );
    }
    return {
      auth: authBlock(core, token, entry),
      warnings: warnings.length ? warnings : undefined,
    };
  };

  const renew = async (e: TokenEntry, increment?: number): Promise<TokenEntry> =>
    await core.tokens.renew(e, increment, await loginRenewal(core, e));

  const byToken = async (t: string | undefined): Promise<TokenEntry> => {
    const e = t ? await core.tokens.lookup(t) : null;
    if (!e) throw new BadRequest("bad token");
    return e;
  };
  const byAccessor = async (a: string | undefined): Promise<TokenEntry> => {
    const e = a ? await core.tokens.lookupByAccessor(a) : null;
    if (!e) throw new BadRequest("invalid accessor");
    return e;
  };
  /**
   * Lookups report the caller's own token as this request left it: with the use it spent
   * counted (Vault's num_uses after UseToken, -1 on the last use, which no lookup finds).
   */
  const lookedUp = async (
    r: CoreRequest,
    by: { token?: string; accessor?: string },
  ): Promise<TokenEntry> => {
    const own = r.token!;
    if (by.token !== undefined && by.token !== "" && tokenId(by.token) === own.id) return own;
    if (by.accessor !== undefined && by.accessor === own.accessor) return own;
    if (by.accessor !== undefined) return await byAccessor(by.accessor);
    const e = by.token ? await core.tokens.lookup(by.token) : null;
    // Vault's handleLookup answers an unknown token with ErrPermissionDenied, not a 400.
    if (!e) throw new PermissionDenied("bad token");
    return e;
  };
  /** Vault's handleLookup: read or update; no token (or "") means the caller's own. */
  const lookup = async (r: CoreRequest): Promise<CoreResponse> => {
    const t = (r.data as { token?: string }).token || r.clientToken;
    return { data: tokenData(core, await lookedUp(r, { token: t }), t) };
  };

  return [
    {
      pattern: "create",
      input: { write: createSchema },
      operations: { update: (r) => create(r, false) },
    },
    {
      pattern: "create-orphan",
      input: { write: createSchema },
      operations: { update: (r) => create(r, true) },
    },
    {
      pattern: "lookup-self",
      operations: {
        read: (r) => Promise.resolve({ data: tokenData(core, r.token!, r.clientToken) }),
        update: (r) => Promise.resolve({ data: tokenData(core, r.token!, r.clientToken) }),
      },
    },
    {
      pattern: "lookup",
      input: { write: tokenSchema, read: tokenSchema },
      operations: { read: lookup, update: lookup },
    },
    {
      pattern: "lookup-accessor",
      input: { write: accessorSchema },
      operations: {
        update: async (r) => {
          const accessor = (r.data as { accessor?: string }).accessor ?? "";
          return { data: tokenData(core, await lookedUp(r, { accessor })) };
        },
      },
    },
    {
      pattern: "renew-self",
      input: { write: renewSchema },
      operations: {
        update: async (r) => {
          const { increment } = r.data as { increment?: number };
          const e = await renew(r.token!, increment);
          return { auth: authBlock(core, r.clientToken, e), warnings: renewWarning(increment, e) };
        },
      },
    },
    {
      pattern: "renew",
      input: { write: renewSchema },
      operations: {
        update: async (r) => {
          const d = r.data as v.InferOutput<typeof renewSchema>;
          const e = await renew(await byToken(d.token), d.increment);
          return { auth: authBlock(core, d.token!, e), warnings: renewWarning(d.increment, e) };
        },
      },
    },
    {
      pattern: "renew-accessor",
      input: { write: renewSchema },
      operations: {
        update: async (r) => {
          const d = r.data as v.InferOutput<typeof renewSchema>;
          const e = await renew(await byAccessor(d.accessor), d.increment);
          return {
            auth: { ...authBlock(core, "", e), client_token: "" },
            warnings: renewWarning(d.increment, e),
          };
        },
      },
    },
    {
      pattern: "revoke-self",
      operations: {
        update: async (r) => {
          await core.tokens.revoke(r.token!);
        },
      },
    },
    {
      pattern: "revoke",
      input: { write: tokenSchema },
      operations: {
        update: async (r) => {
          const t = (r.data as { token?: string }).token;
          const e = t ? await core.tokens.lookup(t) : null;
          if (!t) throw new BadRequest("missing token");
          if (e) await core.tokens.revoke(e);
        },
      },
    },
    {
      // Vault: root or sudo. The token goes (with its leases); its children stay, as orphans.
      pattern: "revoke-orphan",
      sudo: true,
      input: { write: tokenSchema },
      operations: {
        update: async (r) => {
          const t = (r.data as { token?: string }).token;
          if (!t) throw new BadRequest("missing token ID");
          const e = await core.tokens.lookup(t);
          if (!e) throw new BadRequest("token to revoke not found");
          await core.tokens.revokeOrphan(e);
        },
      },
    },
    {
      pattern: "revoke-accessor",
      input: { write: accessorSchema },
      operations: {
        update: async (r) => {
          await core.tokens.revoke(await byAccessor((r.data as { accessor?: string }).accessor));
        },
      },
    },
    {
      pattern: "accessors/",
      sudo: true,
      operations: { list: async () => ({ data: { keys: await core.tokens.accessors() } }) },
    },
    {
      pattern: "tidy",
      operations: {
        update: async () => ({ data: { removed: await core.tokens.tidy() }, status: 200 }),
      },
    },
  ];
}
