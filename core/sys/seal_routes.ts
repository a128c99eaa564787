/** sys/init, seal-status, unseal, seal, health, leader: the routes that work while sealed. */
import { BadRequest } from "../../lib/errors.ts";
import * as fields from "../../lib/fields.ts";
import { v } from "../../lib/fields.ts";
import type { Core } from "../core.ts";
import { VERSION } from "../core.ts";
import { decodeShare } from "../seal/seal.ts";
import { truthy } from "../http/body.ts";
import type { CorePathSpec, CoreResponse } from "../router/types.ts";

function raw(body: unknown, status = 200): CoreResponse {
  return { raw: { body: JSON.stringify(body), contentType: "application/json", status } };
}

const initSchema = v.object({
  secret_shares: v.pipe(
    fields.int,
    v.minValue(1, "must be at least 1"),
    v.maxValue(255, "must be at most 255"),
  ),
  secret_threshold: v.pipe(
    fields.int,
    v.minValue(1, "must be at least 1"),
    v.maxValue(255, "must be at most 255"),
  ),
  pgp_keys: v.optional(v.unknown()),
  root_token_pgp_key: v.optional(v.unknown()),
  stored_shares: v.optional(v.unknown()),
  recovery_shares: v.optional(v.unknown()),
  recovery_threshold: v.optional(v.unknown()),
});

/** An init field set to something: not absent, null, "", [], 0 or "0". */
function given(x: unknown): boolean {
  if (x === undefined || x === null || x === "" || x === 0 || x === "0") return false;
  return !(Array.isArray(x) && x.length === 0);
}

const unsealSchema = v.object({
  key: v.optional(v.pipe(v.string("key must be a string"), v.maxLength(200, "key is too long"))),
  reset: v.optional(fields.bool),
  migrate: v.optional(fields.bool),
});

const healthSchema = v.record(v.string(), v.union([v.string(), v.array(v.string())]));

export function sealStatusBody(core: Core): Record<string, unknown> {
  const s = core.sealStatus();
  const body: Record<string, unknown> = {
    type: "shamir",
    initialized: s.initialized,
    sealed: s.sealed,
    t: s.t,
    n: s.n,
    progress: s.progress,
    nonce: core.seal.nonce,
    version: VERSION,
    build_date: "2026-11-26T00:00:00Z",
    commit_date: "2026-11-26T00:00:00Z",
    migration: false,
    recovery_seal: false,
    storage_type: core.physical.kind,
  };
  if (!s.sealed) {
    body.cluster_name = core.clusterName;
    body.cluster_id = core.clusterId;
  }
  return body;
}

/**
 * A status code override of sys/health: decimal digits for a final status, 200–599. A 1xx is
 * not a reply (101 would switch protocols); 204, 205 and 304 are sent without a body.
 */
function codeParam(q: Record<string, unknown>, name: string, dflt: number): number {
  const x = q[name];
  if (x === undefined) return dflt;
  const s = String(Array.isArray(x) ? x[0] : x);
  // As Go's strconv.Atoi reads Vault's: a sign and leading zeros are fine ("0200" is 200).
  const n = /^[+-]?[0-9]{1,9}$/.test(s) ? Number(s) : NaN;
  if (!(n >= 200 && n <= 599)) {
    const shown = s.length > 16 ? JSON.stringify(s.slice(0, 16)) + "…" : JSON.stringify(s);
    throw new BadRequest(`invalid ${name}: ${shown} (must be a status code from 200 to 599)`);
  }
  return n;
}

/**
 * standbyok / perfstandbyok, read as Vault's parseutil.ParseBool does (Go's strconv.ParseBool:
 * an empty value is an error too) so a typo is a 400 rather than a silent default. This server
 * is never a standby, so the answer changes no status; it is still checked, as Vault checks it.
 */
function boolParam(q: Record<string, unknown>, name: string): boolean {
  const x = q[name];
  if (x === undefined) return false;
  const s = String(Array.isArray(x) ? x[0] : x);
  try {
    if (s !== "") return truthy(s, name);
  } catch {
    // Reworded below in Vault's terms.
  }
  throw new BadRequest(
    `bad value for ${name} parameter: ${fields.quoted(s)} (expected true or false)`,
  );
}

function healthBody(core: Core): Record<string, unknown> {
  return {
    initialized: core.initialized,
    sealed: core.sealed,
    standby: false,
    performance_standby: false,
    replication_performance_mode: "disabled",
    replication_dr_mode: "disabled",
    server_time_utc: Math.floor(core.now() / 1000),
    version: VERSION,
    // Vault names the cluster only while unsealed (its id is behind the barrier).
    ...(core.sealed ? {} : { cluster_name: core.clusterName, cluster_id: core.clusterId }),
  };
}

export function sealRoutes(core: Core): CorePathSpec[] {
  return [
    {
      pattern: "init",
      unauthenticated: true,
      whileSealed: true,
      operations: {
        read: () => Promise.resolve(raw({ initialized: core.initialized })),
        update: async (r) => {
          // Vault says so before looking at the body: a second init, whatever it asks, is told
          // the server is initialised (core.init checks again under its lock).
          if (core.initialized) throw new BadRequest("Vault is already initialized");
          const d = fields.parseWith(initSchema, r.data, (m) => new BadRequest(m));
          // Vault's Go client sends every field (pgp_keys null, root_token_pgp_key "", zeros):
          // only a value that asks for something unsupported is refused.
          if (given(d.pgp_keys) || given(d.root_token_pgp_key)) {
            throw new BadRequest("PGP-encrypted shares are not supported");
          }
          if (given(d.stored_shares)) {
            throw new BadRequest("stored keys are not supported by the shamir seal");
          }
          if (given(d.recovery_shares) || given(d.recovery_threshold)) {
            throw new BadRequest("recovery keys are not applicable to seal type shamir");
          }
          if (d.secret_threshold > d.secret_shares) {
            throw new BadRequest("threshold cannot be larger than shares");
          }
          if (d.secret_shares > 1 && d.secret_threshold < 2) {
            throw new BadRequest("threshold must be greater than one for multiple shares");
          }
          return raw(await core.init(d.secret_shares, d.secret_threshold));
        },
      },
    },
    {
      pattern: "seal-status",
      unauthenticated: true,
      whileSealed: true,
      operations: { read: () => Promise.resolve(raw(sealStatusBody(core))) },
    },
    {
      pattern: "unseal",
      unauthenticated: true,
      whileSealed: true,
      input: { write: unsealSchema },
      operations: {
        update: async (r) => {
          const d = r.data as v.InferOutput<typeof unsealSchema>;
          if (!core.initialized) throw new BadRequest("Vault is not initialized");
          if (d.reset) {
            if (!core.sealed) throw new BadRequest("vault is unsealed");
            core.seal.resetProgress();
            return raw(sealStatusBody(core));
          }
          if (!d.key) {
            throw new BadRequest(
              "'key' must be specified in request body as JSON, or 'reset' set to true",
            );
          }
          // Decoded first, as Vault does: a malformed key is a 400 even when unsealed.
          const share = decodeShare(d.key);
          if (!core.sealed) return raw(sealStatusBody(core));
          await core.unseal(share);
          return raw(sealStatusBody(core));
        },
      },
    },
    {
      pattern: "seal",
      sudo: true,
      operations: {
        update: async () => {
          await core.sealOnRequest();
        },
      },
    },
    {
      pattern: "health",
      unauthenticated: true,
      whileSealed: true,
      input: { read: healthSchema },
      operations: {
        read: (r) => {
          const q = r.data;
          // Every override is validated, not only the one the current state uses.
          const uninit = codeParam(q, "uninitcode", 501);
          const sealed = codeParam(q, "sealedcode", 503);
          const active = codeParam(q, "activecode", 200);
          for (const k of ["standbycode", "drsecondarycode", "performancestandbycode"]) {
            codeParam(q, k, 429);
          }
          boolParam(q, "standbyok");
          boolParam(q, "perfstandbyok");
          const status = !core.initialized ? uninit : core.sealed ? sealed : active;
          return Promise.resolve(raw(healthBody(core), status));
        },
      },
    },
    {
      pattern: "health/live",
      unauthenticated: true,
      whileSealed: true,
      // The process answers, so it is alive; sealed is not a reason to restart it.
      operations: { read: () => Promise.resolve(raw(healthBody(core), 200)) },
    },
    {
      pattern: "health/ready",
      unauthenticated: true,
      whileSealed: true,
      operations: {
        read: () =>
          Promise.resolve(raw(healthBody(core), core.initialized && !core.sealed ? 200 : 503)),
      },
    },
    {
      pattern: "leader",
      unauthenticated: true,
      whileSealed: true,
      operations: {
        read: () =>
          Promise.resolve(raw({
            ha_enabled: false,
            is_self: false,
            active_time: "0001-01-01T00:00:00Z",
            leader_address: "",
            leader_cluster_address: "",
            performance_standby: false,
            performance_standby_last_remote_wal: 0,
          })),
      },
    },
  ];
}
