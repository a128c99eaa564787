/**
 * sys/wrapping/{unwrap,lookup,wrap,rewrap}. The wrapping token itself is the credential for
 * unwrap and lookup.
 */
import { v } from "../../lib/fields.ts";
import { BadRequest } from "../../lib/errors.ts";
import { parseDuration } from "../../lib/duration.ts";
import type { Core } from "../core.ts";
import { wrappedEnvelope } from "../wrapping.ts";
import type { CorePathSpec, CoreRequest, CoreResponse, LeaseEnvelope } from "../router/types.ts";

const tokenSchema = v.object({ token: v.optional(v.pipe(v.string(), v.maxLength(256))) });

function wrappingToken(r: CoreRequest): string {
  return (r.data as { token?: string }).token || r.clientToken;
}

export function wrappingRoutes(core: Core): CorePathSpec[] {
  return [
    {
      pattern: "wrapping/unwrap",
      unauthenticated: true,
      input: { write: tokenSchema },
      operations: {
        update: async (r): Promise<CoreResponse> => {
          const resp = await core.wrapping.unwrap(wrappingToken(r));
          const out: CoreResponse = {
            data: (resp.data as Record<string, unknown> | null) ?? null,
            auth: (resp.auth as Record<string, unknown> | undefined) ?? undefined,
            warnings: (resp.warnings as string[] | null) ?? undefined,
          };
          // A wrapped dynamic secret keeps its lease fields (as issued) through the unwrap.
          if (resp.lease) out.lease = resp.lease as LeaseEnvelope;
          return out;
        },
      },
    },
    {
      pattern: "wrapping/lookup",
      unauthenticated: true,
      input: { write: tokenSchema },
      operations: {
        update: async (r) => ({ data: await core.wrapping.lookup(wrappingToken(r)) }),
      },
    },
    {
      pattern: "wrapping/rewrap",
      input: { write: tokenSchema },
      operations: {
        // Vault's reply carries only wrap_info: written whole here, outside the envelope the
        // pipeline builds (which has no wrap_info of a handler's own), and so outside the audit
        // entry's response data: the new token is never recorded.
        update: async (r): Promise<CoreResponse> => {
          const info = await core.wrapping.rewrap(wrappingToken(r));
          return {
            raw: {
              contentType: "application/json",
              body: JSON.stringify(wrappedEnvelope(r.requestId, info)),
            },
          };
        },
      },
    },
    {
      pattern: "wrapping/wrap",
      operations: {
        // The handler returns the data; the pipeline wraps it (X-Vault-Wrap-TTL is required).
        update: (r) => {
          // Vault's handleWrappingWrap: no wrapping (no header, or a TTL under a second, which
          // would otherwise send the data back in the clear) is a 400.
          const header = r.headers.get("x-vault-wrap-ttl");
          if (!header || parseDuration(header) <= 0) {
            throw new BadRequest(
              "endpoint requires response wrapping to be used: set X-Vault-Wrap-TTL (1s or more)",
            );
          }
          return Promise.resolve({ data: r.data });
        },
      },
    },
  ];
}
