/** sys/auth: list, enable, disable and tune auth method mounts. */
import { BadRequest } from "../../lib/errors.ts";
import * as fields from "../../lib/fields.ts";
import { v } from "../../lib/fields.ts";
import type { Core } from "../core.ts";
import type { MountEntry } from "../mounts/mount_table.ts";
import { SYSTEM_MAX_TTL } from "../token/token_store.ts";
import { mountTtl } from "./admin_routes.ts";
import type { CorePathSpec } from "../router/types.ts";

const enableSchema = v.object({
  type: v.pipe(v.string("type is required"), v.minLength(1, "type is required")),
  description: v.optional(v.pipe(v.string(), v.maxLength(1024)), ""),
  // Other config keys Vault knows (audit_non_hmac_*, token_type…) are accepted and ignored.
  config: v.optional(
    fields.plainObject(v.looseObject({
      default_lease_ttl: v.optional(mountTtl),
      max_lease_ttl: v.optional(mountTtl),
    })),
    {},
  ),
  options: v.optional(v.nullable(fields.plainObject(v.record(v.string(), v.string())))),
  local: v.optional(v.unknown()),
  seal_wrap: v.optional(v.unknown()),
});

const tuneSchema = v.object({
  description: v.optional(v.pipe(v.string(), v.maxLength(1024))),
  default_lease_ttl: v.optional(mountTtl),
  max_lease_ttl: v.optional(mountTtl),
});

function authPath(p: string): string {
  const t = p.replace(/^\/+|\/+$/g, "");
  if (!/^[A-Za-z0-9_.\-/]{1,128}$/.test(t)) throw new BadRequest("invalid auth mount path");
  return t + "/";
}

function view(e: Pick<MountEntry, "type" | "description" | "accessor" | "uuid" | "config">) {
  return {
    type: e.type,
    description: e.description,
    accessor: e.accessor,
    uuid: e.uuid,
    config: {
      default_lease_ttl: e.config.default_lease_ttl,
      max_lease_ttl: e.config.max_lease_ttl,
      token_type: "default-service",
    },
    options: null,
    local: false,
    seal_wrap: false,
  };
}

export function authRoutes(core: Core): CorePathSpec[] {
  const tokenMount = () => core.mounts.get("auth/token/")!;
  /** The auth mount at "auth/<path>" ("token/" included, as sys/auth lists it), or undefined. */
  const find = (path: string) =>
    path === "token/" ? tokenMount() : core.auth.list().find((x) => x.path === `auth/${path}`);
  return [
    {
      pattern: "auth",
      injectTopLevel: true,
      operations: {
        read: () => {
          const data: Record<string, unknown> = { "token/": view(tokenMount()) };
          for (const e of core.auth.list()) data[e.path.slice("auth/".length)] = view(e);
          return Promise.resolve({ data });
        },
      },
    },
    {
      pattern: "auth/:path+/tune",
      sudo: true,
      input: { write: tuneSchema },
      operations: {
        read: (r) => {
          const path = authPath(r.params.path!);
          const e = find(path);
          if (!e) {
            throw new BadRequest(`cannot fetch sysview for path ${JSON.stringify(`auth/${path}`)}`);
          }
          return Promise.resolve({
            data: {
              description: e.description,
              default_lease_ttl: e.config.default_lease_ttl || SYSTEM_MAX_TTL,
              max_lease_ttl: e.config.max_lease_ttl || SYSTEM_MAX_TTL,
            },
          });
        },
        update: async (r) => {
          await core.auth.tune(
            authPath(r.params.path!),
            r.data as v.InferOutput<typeof tuneSchema>,
          );
        },
      },
    },
    {
      pattern: "auth/:path+",
      sudo: true,
      input: { write: enableSchema },
      operations: {
        read: (r) => {
          const path = authPath(r.params.path!);
          const e = find(path);
          // Vault's answer, a 400 whose text clients match to tell a missing method apart.
          if (!e) throw new BadRequest(`No auth engine at ${path}`);
          return Promise.resolve({ data: view(e) });
        },
        update: async (r) => {
          const d = r.data as v.InferOutput<typeof enableSchema>;
          await core.auth.enable(authPath(r.params.path!), d.type, d.description, {
            default_lease_ttl: d.config.default_lease_ttl,
            max_lease_ttl: d.config.max_lease_ttl,
          });
        },
        delete: async (r) => {
          const p = authPath(r.params.path!);
          if (p === "token/") throw new BadRequest("token auth cannot be disabled");
          await core.auth.disable(p);
        },
      },
    },
  ];
}
