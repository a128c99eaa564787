/**
 * sys/leases/* (and the legacy sys/renew, sys/revoke, sys/revoke-prefix, sys/revoke-force), as
 * Vault's API: lookup, renew, revoke, revoke-prefix/-force (sudo), LIST lookup/<prefix> (sudo)
 * and tidy (sudo).
 */
import { BadRequest } from "../../lib/errors.ts";
import * as fields from "../../lib/fields.ts";
import { v } from "../../lib/fields.ts";
import { listResponse, rfc3339 } from "../../engines/sdk.ts";
import type { Core } from "../core.ts";
import type { CorePathSpec, CoreRequest, CoreResponse } from "../router/types.ts";
import { validLeasePath } from "./lease_manager.ts";
import { log } from "../log.ts";

const TIDY_WARNING =
  "Tidy operation successfully started. Any information from the operation will be printed to the server logs.";

const leaseId = v.pipe(
  v.string("lease_id must be a string"),
  v.maxLength(1024, "lease_id is too long"),
);
const lookupSchema = v.object({ lease_id: v.optional(leaseId) });
const renewSchema = v.object({
  lease_id: v.optional(leaseId),
  increment: v.optional(fields.duration),
});
const revokeSchema = v.object({ lease_id: v.optional(leaseId), sync: v.optional(fields.bool) });
const prefixSchema = v.object({ sync: v.optional(fields.bool) });

/** The id from the URL (`…/:id+`) or the body; 400 when neither names a well-formed lease. */
function idOf(r: CoreRequest): string {
  const id = r.params.id || (r.data.lease_id as string | undefined) || "";
  if (!id) throw new BadRequest("lease_id must be specified");
  if (!validLeasePath(id)) throw new BadRequest("invalid lease ID");
  return id;
}

/** `emptyOk`: LIST lookup/ with no prefix lists the top level (the mounts), as Vault does. */
function prefixOf(r: CoreRequest, emptyOk = false): string {
  const p = r.params.prefix ?? "";
  if (p === "" && emptyOk) return p;
  if (!validLeasePath(p, true)) throw new BadRequest("invalid prefix");
  return p;
}

export function leaseRoutes(core: Core): CorePathSpec[] {
  const lookup = async (r: CoreRequest) => {
    const e = await core.leases.lookup(idOf(r));
    const now = core.now();
    return {
      data: {
        id: e.id,
        issue_time: rfc3339(e.issueTime),
        expire_time: rfc3339(e.expireTime),
        last_renewal: e.lastRenewal === null ? null : rfc3339(e.lastRenewal),
        renewable: e.renewable,
        ttl: Math.max(0, Math.round((e.expireTime - now) / 1000)),
      },
    };
  };

  const renew = async (r: CoreRequest): Promise<CoreResponse> => {
    const d = r.data as v.InferOutput<typeof renewSchema>;
    const { entry, warnings } = await core.leases.renew(idOf(r), d.increment);
    const out: CoreResponse = {
      lease: {
        lease_id: entry.id,
        lease_duration: Math.max(0, Math.round((entry.expireTime - core.now()) / 1000)),
        renewable: entry.renewable,
      },
    };
    if (warnings.length) out.warnings = warnings;
    return out;
  };

  const revoke = async (r: CoreRequest): Promise<CoreResponse | void> => {
    const id = idOf(r);
    if ((r.data as v.InferOutput<typeof revokeSchema>).sync === false) {
      // Vault's async form: accepted now, revoked by the timer (and retried there).
      void core.leases.revoke(id).catch(() => {});
      return { status: 202 };
    }
    await core.leases.revoke(id);
  };

  const revokePrefix = (force: boolean) => async (r: CoreRequest): Promise<CoreResponse | void> => {
    const prefix = prefixOf(r);
    if (!prefix) throw new BadRequest("prefix must be specified");
    if ((r.data as v.InferOutput<typeof prefixSchema>).sync === false) {
      void core.leases.revokePrefix(prefix, { force }).catch(() => {});
      return { status: 202 };
    }
    await core.leases.revokePrefix(prefix, { force });
  };

  return [
    { pattern: "leases/lookup", input: { write: lookupSchema }, operations: { update: lookup } },
    {
      pattern: "leases/lookup/:prefix*",
      sudo: true,
      operations: {
        list: async (r) => listResponse((await core.leases.list(prefixOf(r, true))).sort()),
      },
    },
    ...["leases/renew", "renew"].flatMap((p): CorePathSpec[] => [
      { pattern: p, input: { write: renewSchema }, operations: { update: renew } },
      { pattern: `${p}/:id+`, input: { write: renewSchema }, operations: { update: renew } },
    ]),
    ...["leases/revoke", "revoke"].flatMap((p): CorePathSpec[] => [
      { pattern: p, input: { write: revokeSchema }, operations: { update: revoke } },
      { pattern: `${p}/:id+`, input: { write: revokeSchema }, operations: { update: revoke } },
    ]),
    ...["leases/revoke-prefix", "revoke-prefix"].map((p): CorePathSpec => ({
      pattern: `${p}/:prefix+`,
      sudo: true,
      input: { write: prefixSchema },
      operations: { update: revokePrefix(false) },
    })),
    ...["leases/revoke-force", "revoke-force"].map((p): CorePathSpec => ({
      pattern: `${p}/:prefix+`,
      sudo: true,
      operations: { update: revokePrefix(true) },
    })),
    {
      pattern: "leases/tidy",
      sudo: true,
      operations: {
        update: async () => {
          const n = await core.leases.tidy(async (a) =>
            (await core.tokens.lookupByAccessor(a)) !== null
          );
          log.info("lease tidy finished", {
            dangling_index_entries: n.dangling,
            orphaned_leases: n.orphaned,
          });
          return { status: 202, warnings: [TIDY_WARNING] };
        },
      },
    },
  ];
}
