/** sys/mounts, policies, capabilities, keyring and metrics routes. */
import { BadRequest, NotFound, PermissionDenied, ServiceUnavailable } from "../../lib/errors.ts";
import * as fields from "../../lib/fields.ts";
import { v } from "../../lib/fields.ts";
import type { Core } from "../core.ts";
import type { MountEntry } from "../mounts/mount_table.ts";
import type { CorePathSpec } from "../router/types.ts";
import { SYSTEM_MAX_TTL } from "../token/token_store.ts";
import { evalContext, shortRoute } from "../http/pipeline.ts";
import type { EvalContext } from "../policy/acl.ts";

/**
 * A TTL as Vault's mount enable and tune take it: "system" is the system default (stored as 0)
 * and "" is left out (tune keeps the mount's value; enable uses the system's).
 */
export const mountTtl = v.pipe(
  v.unknown(),
  v.transform((x) => x === "system" ? 0 : x === "" ? undefined : x),
  v.optional(fields.duration),
);

/**
 * Vault's mount settings that SecretHub only stores and reports (MountConfig in
 * core/mounts/mount_table.ts): listing, audit HMAC exemptions and header passing are not
 * implemented, so these change nothing but what sys/mounts and the tune read show.
 */
const mountSettings = {
  listing_visibility: v.optional(
    v.picklist(["unauth", "hidden", ""], 'must be "unauth", "hidden" or ""'),
  ),
  audit_non_hmac_request_keys: v.optional(fields.stringList),
  audit_non_hmac_response_keys: v.optional(fields.stringList),
  passthrough_request_headers: v.optional(fields.stringList),
  allowed_response_headers: v.optional(fields.stringList),
};

const mountName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.\-/]{1,128}$/, "invalid mount path"));

const mountSchema = v.object({
  type: v.pipe(v.string("type is required"), v.minLength(1, "type is required")),
  description: v.optional(v.pipe(v.string(), v.maxLength(1024)), ""),
  config: v.optional(
    fields.plainObject(v.object({
      default_lease_ttl: v.optional(mountTtl),
      max_lease_ttl: v.optional(mountTtl),
      ...mountSettings,
    })),
    {},
  ),
  // Vault's TypeKVPairs, weakly decoded: {"version":2} is the string "2".
  options: v.optional(v.nullable(fields.weakStringMap), null),
  local: v.optional(fields.bool),
  seal_wrap: v.optional(fields.bool),
});

const tuneSchema = v.object({
  description: v.optional(v.pipe(v.string(), v.maxLength(1024))),
  default_lease_ttl: v.optional(mountTtl),
  max_lease_ttl: v.optional(mountTtl),
  options: v.optional(v.nullable(fields.weakStringMap)),
  ...mountSettings,
});

const policySchema = v.object({
  policy: v.optional(v.pipe(v.string("policy must be a string"), v.maxLength(1 << 20))),
  rules: v.optional(v.pipe(v.string("rules must be a string"), v.maxLength(1 << 20))),
});

/**
 * What a token may do on a short route (`secrets/<path>`): the capabilities of the KV v2 path each
 * verb maps to (secret/data/<path>, and secret/metadata/<path> for list), as the request would be
 * checked.
 */
function shortRouteCapabilities(path: string, of: (p: string) => string[]): string[] {
  const data = of(shortRoute(path, "read")).filter((c) => c !== "list");
  const list = of(shortRoute(path, "list")).includes("list") ? ["list"] : [];
  const all = [...data, ...list].filter((c) => c !== "deny");
  return all.length ? [...new Set(all)].sort() : ["deny"];
}

const capsSchema = v.object({
  paths: v.optional(fields.stringList),
  path: v.optional(fields.stringList),
  token: v.optional(v.string()),
  accessor: v.optional(v.string()),
});

function mountView(e: MountEntry): Record<string, unknown> {
  return {
    type: e.type,
    description: e.description,
    accessor: e.accessor,
    uuid: e.uuid,
    config: { ...e.config, force_no_cache: false },
    options: e.options,
    local: e.local,
    seal_wrap: e.seal_wrap,
    external_entropy_access: false,
    plugin_version: "",
    running_plugin_version: "",
    running_sha256: "",
  };
}

function normMount(p: string): string {
  const t = p.replace(/^\/+|\/+$/g, "");
  if (!t) throw new BadRequest("mount path is required");
  return t + "/";
}

export function adminRoutes(core: Core): CorePathSpec[] {
  const listPolicies = async () => {
    const keys = await core.policies.list();
    return { data: { keys, policies: keys } };
  };
  const caps = async (policies: string[], paths: string[], ctx: EvalContext) => {
    if (paths.length === 0) throw new BadRequest("missing paths");
    if (paths.length > 100) throw new BadRequest("too many paths (max 100)");
    const acl = await core.policies.acl(policies);
    const out: Record<string, unknown> = {};
    for (const p of paths) {
      const path = p.replace(/^\/+/, "");
      out[p] = path.startsWith("secrets/")
        ? shortRouteCapabilities(path, (q) => acl.capabilities(q, ctx))
        : acl.capabilities(path, ctx);
    }
    if (paths.length === 1) out.capabilities = out[paths[0]!];
    return { data: out };
  };
  return [
    {
      pattern: "mounts",
      injectTopLevel: true,
      operations: {
        read: () =>
          Promise.resolve({
            data: Object.fromEntries(core.mounts.list().map((e) => [e.path, mountView(e)])),
          }),
      },
    },
    {
      pattern: "mounts/:path+/tune",
      input: { write: tuneSchema },
      operations: {
        read: (r) => {
          const path = normMount(r.params.path!);
          const e = core.mounts.get(path);
          if (!e) throw new BadRequest(`cannot fetch sysview for path ${JSON.stringify(path)}`);
          const { default_lease_ttl, max_lease_ttl, ...settings } = e.config;
          return Promise.resolve({
            data: {
              description: e.description,
              default_lease_ttl: default_lease_ttl || SYSTEM_MAX_TTL,
              max_lease_ttl: max_lease_ttl || SYSTEM_MAX_TTL,
              force_no_cache: false,
              options: e.options,
              ...settings,
            },
          });
        },
        update: async (r) => {
          const d = r.data as v.InferOutput<typeof tuneSchema>;
          await core.mounts.tune(normMount(r.params.path!), d);
        },
      },
    },
    {
      // Not root-protected: Vault's sys backend lists "auth/*", "audit/*", "rotate", … as sudo
      // paths (PathsSpecial.Root) but not "mounts/*", so create/update/delete on sys/mounts/<path>
      // is enough to mount or unmount a secrets engine (README: only sys/auth needs sudo).
      pattern: "mounts/:path+",
      input: { write: mountSchema },
      operations: {
        read: (r) => {
          const path = normMount(r.params.path!);
          const e = core.mounts.get(path);
          // Vault's answer, a 400 (not a 404): Terraform and other clients match its text to
          // tell a missing mount from a failed read.
          if (!e) throw new BadRequest(`No secret engine mount at ${path}`);
          return Promise.resolve({ data: mountView(e) });
        },
        update: async (r) => {
          // A name Vault would not take either (a space, "%"): a 400, not a thrown parse error.
          const path = normMount(
            fields.parseWith(mountName, r.params.path, () =>
              new BadRequest(
                `invalid mount path ${JSON.stringify(r.params.path)}: ` +
                  `letters, digits, "_", ".", "-" and "/" only`,
              )),
          );
          const d = r.data as v.InferOutput<typeof mountSchema>;
          await core.mounts.enable(path, d.type, d.description, d.options, d.config);
        },
        delete: async (r) => {
          const path = normMount(r.params.path!);
          const uuid = core.mounts.get(path)?.uuid ?? "";
          if (!core.mounts.engineFor(uuid)) {
            await core.mounts.disable(path);
            return;
          }
          // Vault's order: new requests to the mount are refused and the running ones finish
          // (credentials they return meanwhile are revoked at once, see the pipeline), then the
          // mount's leases go (each engine revoke), and a lease that cannot be revoked keeps the
          // mount, so no credential outlives the engine that made it. The wait stays inside this
          // request's own deadline.
          const waitMs = Math.max(1, Math.floor(core.requestTimeoutMs / 2));
          if (!await core.mounts.beginClose(uuid, waitMs)) {
            throw new ServiceUnavailable(
              "requests to the mount are still running; try the unmount again",
            );
          }
          try {
            await core.leases.revokePrefix(path);
            await core.mounts.disable(path);
          } finally {
            core.mounts.endClose(uuid);
          }
        },
      },
    },
    {
      // As in Vault, no path rule guards this route (the CLI's `kv` commands ask it which KV
      // version a path is on, with tokens that may only read secrets): the handler answers only
      // about mounts the token can use somewhere inside.
      pattern: "internal/ui/mounts/:path*",
      unauthenticated: true,
      operations: {
        read: async (r) => {
          const entry = r.clientToken ? await core.tokens.lookup(r.clientToken) : null;
          if (!entry) throw new PermissionDenied();
          const acl = await core.policies.acl(entry.policies);
          const ctx = evalContext(core, { ...r, token: entry });
          const p = r.params.path ?? "";
          if (!p) {
            const secret = Object.fromEntries(
              core.mounts.list().filter((e) => acl.hasAccessUnder(e.path, ctx)).map((
                e,
              ) => [e.path, mountView(e)]),
            );
            return { data: { secret, auth: {} } };
          }
          const m = core.mounts.resolve(p);
          if (!m || !acl.hasAccessUnder(m.entry.path, ctx)) throw new PermissionDenied();
          return { data: { ...mountView(m.entry), path: m.entry.path } };
        },
      },
    },
    // Vault's policy/?$ binds read and LIST to the list, with or without the slash.
    ...["policy", "policy/"].map((pattern): CorePathSpec => ({
      pattern,
      injectTopLevel: true,
      operations: { read: listPolicies, list: listPolicies },
    })),
    {
      pattern: "policies/acl/",
      operations: {
        list: async () => ({ data: { keys: await core.policies.list() } }),
      },
    },
    ...["policy/:name", "policies/acl/:name"].map((pattern): CorePathSpec => ({
      pattern,
      input: { write: policySchema },
      operations: {
        read: async (r) => {
          const p = await core.policies.read(r.params.name!);
          if (!p) throw new NotFound();
          const legacy = pattern.startsWith("policy/");
          return {
            data: legacy
              ? { name: p.name, rules: p.policy }
              : { name: p.name, policy: p.policy, version: p.version, modified: p.modified },
          };
        },
        update: async (r) => {
          const d = r.data as v.InferOutput<typeof policySchema>;
          const text = d.policy ?? d.rules;
          if (text === undefined) throw new BadRequest("'policy' parameter not supplied or empty");
          await core.policies.write(r.params.name!, text);
        },
        delete: async (r) => {
          await core.policies.delete(r.params.name!);
        },
      },
    })),
    {
      pattern: "capabilities-self",
      injectTopLevel: true,
      input: { write: capsSchema },
      operations: {
        update: (r) => {
          const d = r.data as v.InferOutput<typeof capsSchema>;
          return caps(r.token!.policies, d.paths ?? d.path ?? [], evalContext(core, r));
        },
      },
    },
    {
      pattern: "capabilities",
      injectTopLevel: true,
      input: { write: capsSchema },
      operations: {
        update: async (r) => {
          const d = r.data as v.InferOutput<typeof capsSchema>;
          const t = d.token ? await core.tokens.lookup(d.token) : null;
          if (!t) throw new BadRequest("invalid token");
          return caps(t.policies, d.paths ?? d.path ?? [], {
            remoteAddress: r.remoteAddress || undefined,
            now: core.now(),
            tokenTtl: core.tokens.ttlOf(t),
          });
        },
      },
    },
    {
      pattern: "capabilities-accessor",
      injectTopLevel: true,
      input: { write: capsSchema },
      operations: {
        update: async (r) => {
          const d = r.data as v.InferOutput<typeof capsSchema>;
          const t = d.accessor ? await core.tokens.lookupByAccessor(d.accessor) : null;
          if (!t) throw new BadRequest("invalid accessor");
          return caps(t.policies, d.paths ?? d.path ?? [], {
            remoteAddress: r.remoteAddress || undefined,
            now: core.now(),
            tokenTtl: core.tokens.ttlOf(t),
          });
        },
      },
    },
    {
      pattern: "rotate",
      sudo: true,
      operations: {
        update: async () => {
          await core.rotate();
        },
      },
    },
    {
      pattern: "key-status",
      injectTopLevel: true,
      operations: {
        read: () => {
          const t = core.barrier.keyring.active;
          return Promise.resolve({
            data: {
              term: t.term,
              install_time: t.installTime,
              encryptions: core.barrier.encryptions,
            },
          });
        },
      },
    },
    {
      pattern: "metrics",
      input: {
        read: v.object({
          format: v.optional(v.picklist(["prometheus", "json", ""], "unsupported format")),
        }),
      },
      operations: {
        read: async (r) => {
          const extra = {
            secrethub_audit_log_failures_total: core.audit.failures,
            secrethub_token_count: (await core.tokens.accessors()).length,
            secrethub_lease_count: core.leases.count,
          };
          if (r.data.format === "prometheus") {
            return {
              raw: {
                body: core.metrics.prometheus(extra),
                contentType: "text/plain; version=0.0.4",
              },
            };
          }
          return {
            raw: {
              body: JSON.stringify(core.metrics.json(extra)),
              contentType: "application/json",
            },
          };
        },
      },
    },
  ];
}
