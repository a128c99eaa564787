/**
 * The core's state: storage, barrier, seal and everything that exists only while unsealed
 * (tokens, policies, mounts, audit). Built from options by constructor injection, no module
 * state, so tests build a core in-process in milliseconds.
 */
import { BadRequest, Sealed } from "../lib/errors.ts";
import { policyName, RESPONSE_WRAPPING_POLICY } from "../lib/fields.ts";
import { randomKey, toBase64, toHex, uuid } from "../lib/crypto.ts";
import { readJSON, writeJSON } from "../engines/sdk.ts";
import { AuditBroker, AuditDeviceUnavailable, type SinkConfig } from "./audit/broker.ts";
import { log } from "./log.ts";
import { Barrier } from "./barrier/barrier.ts";
import type { Keyring } from "./barrier/keyring.ts";
import { MountTable } from "./mounts/mount_table.ts";
import { PolicyStore } from "./policy/store.ts";
import { type SealStatus, ShamirSeal } from "./seal/seal.ts";
import type { PhysicalStorage } from "./storage/storage.ts";
import { SYSTEM_MAX_TTL, TokenStore } from "./token/token_store.ts";
import { Metrics } from "./metrics.ts";
import { AuthTable } from "./auth/auth_table.ts";
import { Wrapping } from "./wrapping.ts";
import { AlertHook } from "./alerts.ts";
import { CoreEvents } from "./events.ts";
import type { AuthMethodFactory, LoginGrant, LoginLimiter } from "./auth/types.ts";
import type { MountEntry } from "./mounts/mount_table.ts";
import { authBlock } from "./token/routes.ts";
import { type Cidr, parseCidr } from "../lib/cidr.ts";
import type { IdentityServices } from "./identity/mod.ts";
import type { AgentLinks } from "./agents/routes.ts";
import { LeaseManager } from "./lease/lease_manager.ts";
import { CubbyholeStore } from "./cubbyhole/cubbyhole_store.ts";
import { Mutex } from "../lib/mutex.ts";

/** Used only when no limiter was configured: logins are refused rather than left unprotected. */
const refuseAllLogins: LoginLimiter = {
  check: () => ({ allowed: false, retryAfter: 60 }),
  fail: () => {},
  succeed: () => {},
};

export const VERSION = "0.1.0";
export const AUDIT_KEY_PATH = "core/audit-key";
const CLUSTER_INFO_PATH = "core/cluster-info";
const AUDIT_SINKS_PATH = "core/audit-sinks";

export interface CoreOptions {
  physical: PhysicalStorage;
  now?: () => number;
  /** Bytes; 413 beyond it. */
  maxRequestSize?: number;
  /** Milliseconds before a request is answered 503. */
  requestTimeoutMs?: number;
  /** Token and lease sweep interval; 0 disables the timer (tests call tidy directly). */
  tidyIntervalMs?: number;
  clusterName?: string;
  /** Auth method types `sys/auth` can enable. */
  authMethods?: Record<string, AuthMethodFactory>;
  /** Brute-force protection shared by every login path. */
  limiter?: LoginLimiter;
  /** Peers whose X-Forwarded-For is believed (CIDRs); nobody else's is. */
  trustedProxies?: string[];
  /** Where break-glass alerts are POSTed. */
  alertWebhookUrl?: string;
}

interface Unsealed {
  tokens: TokenStore;
  policies: PolicyStore;
  audit: AuditBroker;
  auth: AuthTable;
  wrapping: Wrapping;
  leases: LeaseManager;
  cubbyhole: CubbyholeStore;
  rootKey: Uint8Array;
}

export class Core {
  readonly physical: PhysicalStorage;
  readonly barrier: Barrier;
  readonly seal: ShamirSeal;
  readonly mounts: MountTable;
  readonly metrics = new Metrics();
  readonly now: () => number;
  readonly maxRequestSize: number;
  readonly requestTimeoutMs: number;
  readonly clusterName: string;
  /**
   * Stored behind the barrier at the first unseal and read at each one after, so it names the
   * cluster across restarts (Vault's core/cluster/local/info); "" while sealed, as Vault
   * reports none then.
   */
  clusterId = "";
  readonly authMethods: Record<string, AuthMethodFactory>;
  readonly limiter: LoginLimiter | undefined;
  readonly trustedProxies: Cidr[];
  readonly alerts: AlertHook;
  /** Committed writes, for pushes to connected agents. */
  readonly events = new CoreEvents();
  #u: Unsealed | null = null;
  #tidyTimer: ReturnType<typeof setInterval> | undefined;
  #tidyIntervalMs: number;
  #tidying = false;
  /**
   * Init, unseal, rotate and a requested seal take turns, as under Vault's state lock. Run
   * together, two inits each stored a keyring and handed out shares of which only the last
   * worked, and two rotates built the same term from one keyring, so values written under the
   * losing key could never be decrypted again.
   */
  readonly #lifecycle = new Mutex();
  /** Builtin path tables register here; set by the HTTP layer. */
  onUnseal: (() => void)[] = [];
  /** Run by sealNow, so services drop what they derived from the keys (e.g. a CA's key). */
  onSeal: (() => void)[] = [];
  /** Identity PKI, apps and agents; set by createCore (core/server.ts). */
  identity: IdentityServices | null = null;
  /** Live agent links, when this node runs the agent listener (set by it). */
  agentLinks: AgentLinks | null = null;

  private constructor(o: CoreOptions) {
    this.physical = o.physical;
    this.barrier = new Barrier(o.physical);
    this.seal = new ShamirSeal(o.physical);
    this.now = o.now ?? Date.now;
    this.mounts = new MountTable(this.barrier, this.now);
    this.maxRequestSize = o.maxRequestSize ?? 32 * 1024 * 1024;
    this.requestTimeoutMs = o.requestTimeoutMs ?? 90_000;
    this.clusterName = o.clusterName ?? "secrethub-cluster";
    this.#tidyIntervalMs = o.tidyIntervalMs ?? 60_000;
    this.authMethods = o.authMethods ?? {};
    this.limiter = o.limiter;
    this.trustedProxies = (o.trustedProxies ?? []).map(parseCidr);
    this.alerts = new AlertHook(o.alertWebhookUrl);
  }

  static async open(o: CoreOptions): Promise<Core> {
    const c = new Core(o);
    await c.seal.load();
    return c;
  }

  get initialized(): boolean {
    return this.seal.config !== null;
  }

  get sealed(): boolean {
    return this.#u === null;
  }

  #need(): Unsealed {
    if (!this.#u) throw new Sealed();
    return this.#u;
  }

  get tokens(): TokenStore {
    return this.#need().tokens;
  }
  get policies(): PolicyStore {
    return this.#need().policies;
  }
  get audit(): AuditBroker {
    return this.#need().audit;
  }
  get auth(): AuthTable {
    return this.#need().auth;
  }
  get wrapping(): Wrapping {
    return this.#need().wrapping;
  }
  get cubbyhole(): CubbyholeStore {
    return this.#need().cubbyhole;
  }
  get leases(): LeaseManager {
    return this.#need().leases;
  }

  sealStatus(): SealStatus {
    const cfg = this.seal.config;
    return {
      initialized: !!cfg,
      sealed: this.sealed,
      t: cfg?.secret_threshold ?? 0,
      n: cfg?.secret_shares ?? 0,
      progress: this.seal.progress,
    };
  }

  /** Vault's init: shares + root token, and the server is left sealed. */
  init(
    shares: number,
    threshold: number,
    rootTokenId?: string,
  ): Promise<{ keys: string[]; keys_base64: string[]; root_token: string }> {
    return this.#lifecycle.run(() => this.#init(shares, threshold, rootTokenId));
  }

  async #init(
    shares: number,
    threshold: number,
    rootTokenId?: string,
  ): Promise<{ keys: string[]; keys_base64: string[]; root_token: string }> {
    if (this.initialized) throw new BadRequest("Vault is already initialized");
    const r = await this.seal.initialize(shares, threshold);
    await this.#open(r.keyring, r.rootKey, true);
    const { token } = await this.tokens.create({
      id: rootTokenId,
      policies: ["root"],
      parent: null,
      displayName: "root",
      path: "auth/token/root",
    });
    await this.sealNow(true);
    log.info("core initialized", { secret_shares: shares, secret_threshold: threshold });
    return {
      keys: r.shares.map(toHex),
      keys_base64: r.shares.map(toBase64),
      root_token: token,
    };
  }

  /** Adds one unseal share; unseals when the threshold is met and the key proves correct. */
  unseal(share: Uint8Array): Promise<SealStatus> {
    return this.#lifecycle.run(() => this.#unseal(share));
  }

  async #unseal(share: Uint8Array): Promise<SealStatus> {
    if (!this.sealed) return this.sealStatus();
    const r = await this.seal.submit(share);
    if (r) {
      await this.#open(r.keyring, r.rootKey, false);
      // As Vault's "vault is unsealed": operators follow the seal state in the log.
      log.info("core unsealed");
    }
    return this.sealStatus();
  }

  async #open(keyring: Keyring, rootKey: Uint8Array, first: boolean): Promise<void> {
    this.barrier.unsealWith(keyring);
    let leases: LeaseManager | null = null;
    try {
      let auditKey = await this.barrier.get(AUDIT_KEY_PATH);
      if (!auditKey) {
        if (!first) throw new Error("audit key missing from storage");
        auditKey = randomKey(32);
        await this.barrier.put(AUDIT_KEY_PATH, auditKey);
      }
      let cluster = await readJSON<{ id: string }>(this.barrier, CLUSTER_INFO_PATH);
      if (!cluster) await writeJSON(this.barrier, CLUSTER_INFO_PATH, cluster = { id: uuid() });
      const policies = new PolicyStore(this.barrier.view("sys/policy/"));
      await policies.ensureDefault();
      const tokens = new TokenStore(this.barrier.view("sys/token/"), this.now);
      // Loads the accessor index key and moves a pre-keyed index (plaintext accessor keys).
      await tokens.init();
      const audit = new AuditBroker(this.physical, auditKey);
      // The writer opens the chain (noting any anomaly) when it takes the key; an empty commit
      // queued behind it makes unseal return only after that, so nothing answered after unseal
      // (sys/audit/verify included) can see the chain as it was before.
      await this.physical.transaction([]);
      for (const s of await readJSON<SinkConfig[]>(this.barrier, AUDIT_SINKS_PATH) ?? []) {
        try {
          audit.enableSink(s);
        } catch (e) {
          // Fail closed, as Vault's "failed to setup audit table": no unseal without every
          // device, but say which one and why instead of a bare internal error.
          const why = (e as Error).message;
          log.error("cannot open audit device at unseal; the core stays sealed", {
            device: s.path,
            file_path: s.options.file_path,
            error: why,
          });
          void audit.close();
          throw new AuditDeviceUnavailable(s.path, s.options.file_path ?? "", why);
        }
      }
      await this.mounts.load();
      leases = new LeaseManager({
        storage: this.barrier.view("sys/expire/"),
        engineFor: (uuid) => this.mounts.engineFor(uuid),
        now: this.now,
        onRevoked: (id) => this.events.emitLeaseRevoked(id),
        tokenExpiry: async (a) => (await tokens.lookupByAccessor(a))?.expire_time ?? null,
      });
      await leases.start();
      const lm = leases;
      // Vault revokes the leases a token created with the token (here: marked expired, so the
      // lease timer revokes them without holding up the token revoke).
      // A token's cubbyhole goes with it. onRevoked must not throw: a failed destroy leaves
      // data nobody can reach (its accessor is gone), which the periodic tidy removes.
      const cubbyhole = new CubbyholeStore(this.barrier.view("sys/cubbyhole/"));
      tokens.onRevoked = async (accessors) => {
        await Promise.all([
          lm.revokeByTokens(accessors),
          cubbyhole.destroy(accessors).catch((e) =>
            log.warn("could not remove the cubbyholes of revoked tokens", {
              error_type: (e as Error).name,
            })
          ),
        ]);
      };
      const auth = new AuthTable({
        barrier: this.barrier,
        mounts: this.mounts,
        methods: this.authMethods,
        limiter: this.limiter ?? refuseAllLogins,
        now: this.now,
        issueToken: (e, g, remote) => this.#issueLoginToken(tokens, e, g, remote),
        revokeSource: (s) => tokens.revokeSource(s),
      });
      await auth.load();
      const wrapping = new Wrapping(this.barrier.view("sys/wrapping/"), tokens, this.now);
      this.#u = { tokens, policies, audit, auth, wrapping, leases, cubbyhole, rootKey };
      this.clusterId = cluster.id;
      this.metrics.unsealed = 1;
      if (this.#tidyIntervalMs > 0) {
        this.#tidyTimer = setInterval(() => void this.#tidy(), this.#tidyIntervalMs);
        Deno.unrefTimer(this.#tidyTimer);
      }
      // Init opens the core only to write the root token and seals it again: listeners started
      // here would bind and be torn down under it.
      if (!first) { for (const f of this.onUnseal) f(); }
    } catch (e) {
      void leases?.stop();
      await this.mounts.unload();
      this.barrier.seal();
      rootKey.fill(0);
      throw e;
    }
  }

  /**
   * The periodic sweep: expired tokens go (their leases are expired with them), then leases
   * whose token is gone anyway (a crash between the two, or a lease stored as its token went).
   * A sweep still running when the timer fires again is not doubled.
   */
  async #tidy(): Promise<void> {
    if (this.#tidying) return;
    this.#tidying = true;
    try {
      const tokens = this.tokens;
      await tokens.tidy();
      await this.leases.tidy(async (a) => (await tokens.lookupByAccessor(a)) !== null);
      await this.cubbyhole.tidy(() => tokens.accessors());
    } catch {
      this.metrics.tidyFailures++;
    } finally {
      this.#tidying = false;
    }
  }

  /**
   * Drops every key from memory; the process keeps serving seal/health routes only. Lease
   * timers stop (a revoke in flight fails against the sealed barrier and is redone after the
   * next unseal), then the engines are closed.
   */
  /** `quiet`: init sealing what it opened for itself, which is no seal to log. */
  async sealNow(quiet = false): Promise<void> {
    if (this.#tidyTimer !== undefined) clearInterval(this.#tidyTimer);
    this.#tidyTimer = undefined;
    const u = this.#u;
    this.#u = null;
    this.clusterId = "";
    // Waited for at the end: records committed before the seal still reach the file devices.
    let auditClosed: Promise<void> | undefined;
    if (u) {
      void u.leases.stop();
      u.tokens.onRevoked = null;
      auditClosed = u.audit.close();
      u.rootKey.fill(0);
      u.tokens.clearCache();
      u.cubbyhole.wipe();
    }
    u?.auth.unload();
    const closing = this.mounts.unload();
    for (const f of this.onSeal) f();
    this.barrier.seal();
    if (u && !quiet) log.info("core sealed");
    this.seal.resetProgress();
    this.metrics.unsealed = 0;
    await Promise.all([closing, auditClosed]);
  }

  async #issueLoginToken(
    tokens: TokenStore,
    e: MountEntry,
    g: LoginGrant,
    remoteAddress: string,
  ): Promise<Record<string, unknown>> {
    for (const c of g.boundCidrs) parseCidr(c); // a bad role config must not mint a token
    const policies = [...new Set([...g.policies, ...(g.noDefaultPolicy ? [] : ["default"])])];
    // Only a root parent makes a root token (Vault: "auth methods cannot create root tokens"),
    // whatever a role or user record says, however it came to say it.
    if (policies.some((p) => policyName(p) === "root")) {
      throw new BadRequest("auth methods cannot create root tokens");
    }
    if (policies.some((p) => policyName(p) === RESPONSE_WRAPPING_POLICY)) {
      throw new BadRequest(`cannot assign policy "${RESPONSE_WRAPPING_POLICY}"`);
    }
    // Vault's CalculateTTL for a login: the role's TTL, else the auth mount's default; the cap is
    // the mount's max unless the role's is lower. A role TTL above the cap is cut down to it.
    const mountMax = Math.min(e.config.max_lease_ttl || SYSTEM_MAX_TTL, SYSTEM_MAX_TTL);
    const maxTtl = g.maxTtl > 0 ? Math.min(g.maxTtl, mountMax) : mountMax;
    const ttl = Math.min(g.ttl > 0 ? g.ttl : e.config.default_lease_ttl || SYSTEM_MAX_TTL, maxTtl);
    const { token, entry } = await tokens.create({
      policies,
      parent: null,
      meta: g.metadata,
      displayName: g.displayName,
      numUses: g.numUses,
      ttl,
      maxTtl,
      explicitMaxTtl: g.explicitMaxTtl && g.explicitMaxTtl > 0 ? g.explicitMaxTtl : undefined,
      path: `${e.path}${g.path ?? "login"}`,
      boundCidrs: g.boundCidrs,
      source: `${e.uuid}/${g.role}`,
    });
    void remoteAddress;
    return authBlock(this, token, entry);
  }

  /** Adds a keyring term: new writes use it, old terms keep decrypting. */
  rotate(): Promise<void> {
    return this.#lifecycle.run(() => this.#rotate());
  }

  /** Seals on request (sys/seal), after any init, unseal or rotate under way. */
  sealOnRequest(): Promise<void> {
    return this.#lifecycle.run(() => this.sealNow());
  }

  async #rotate(): Promise<void> {
    const u = this.#need();
    const next = this.barrier.keyring.rotated(new Date(this.now()));
    await this.seal.persistKeyring(next, u.rootKey);
    this.barrier.replaceKeyring(next);
    log.info("keyring rotated", { term: next.active.term });
  }

  async saveAuditSinks(): Promise<void> {
    await writeJSON(this.barrier, AUDIT_SINKS_PATH, this.audit.sinks());
  }

  async close(): Promise<void> {
    if (this.#tidyTimer !== undefined) clearInterval(this.#tidyTimer);
    // A revoke in flight finishes (or fails) before storage goes away under it.
    await this.#u?.leases.stop();
    // Records still on their way to the file devices get there before the files close.
    await this.#u?.audit.close();
    await this.mounts.unload();
    this.barrier.seal();
    await this.physical.close();
  }
}
