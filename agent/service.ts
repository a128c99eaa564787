/**
 * The agent daemon: identity (bootstrap or reuse), the link to core, the cache (memory + encrypted
 * disk), templates, the optional supervised child and the local socket API, wired together.
 *
 * Freshness rule: while the link is up every cached path is subscribed, so core pushes any change
 * and cached values are current; the cache's "confirmed" time is advanced on each heartbeat.
 * When the link is down, values age from the last confirmation and are served until max_stale,
 * then refused (fail closed).
 */
import { ApiClient } from "../lib/client.ts";
import type { CoreMessage } from "../lib/agent_protocol.ts";
import type { AgentConfig } from "./config.ts";
import {
  type CacheEntry,
  keyMaterialFromPrivateKeyPem,
  PersistentCache,
  readCacheKeyFile,
  SecretCache,
} from "./cache/mod.ts";
import {
  BootstrapError,
  forgetLoginToken,
  type Identity,
  identityFrom,
  type IssuedCert,
  issueIdentity,
  loadIdentity,
  loadLoginToken,
  login,
  type LoginToken,
  loginTokenUsable,
  newKeyAndCsr,
  renewalDue,
  revokeLoginToken,
  saveIdentity,
  saveLoginToken,
  usable,
} from "./identity.ts";
import { AgentLink, LinkError, LinkOffline } from "./link.ts";
import { buildSocketApp, type LocalApp, type ReadResult, serveSocket } from "./socket_api.ts";
import type { SecretLookup } from "./template/mod.ts";
import type { TemplateJob } from "./render/renderer.ts";
import { templateJobFromConfig } from "./render/from_config.ts";
import { basename, dirname } from "../lib/paths.ts";
import { cleanupStaleTemps, writeFileAtomic } from "./render/atomic_file.ts";
import { randomBase62 } from "../lib/web_crypto.ts";
import { LeaseRenewer } from "./leases.ts";
import type { ExecHook } from "./exec_hook.ts";

export const AGENT_VERSION = "0.1.0";

export type Log = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  f?: Record<string, unknown>,
) => void;

export interface AgentServiceOptions {
  now?: () => number;
  log: Log;
  exec?: ExecHook;
}

interface LinkState {
  /** Last time the link was known healthy: every subscribed value was current then. */
  confirmedAt: number;
}

export class AgentService {
  readonly #cfg: AgentConfig;
  readonly #now: () => number;
  readonly #log: Log;
  readonly #exec: ExecHook | undefined;
  readonly #cache: SecretCache;
  #persist: PersistentCache | null = null;
  #identity: Identity | null = null;
  #link: AgentLink | null = null;
  #apps: LocalApp[] = [];
  #jobs: TemplateJob[] = [];
  #wanted = new Set<string>();
  #socket: { close(): Promise<void> } | null = null;
  #timers: ReturnType<typeof setInterval>[] = [];
  #stopped = false;
  #lastError = "";
  #renewing = false;
  #revoked = false;
  #leases: LeaseRenewer;
  readonly #inflight = new Map<string, Promise<ReadResult>>();
  readonly #requeued = new Map<string, Promise<ReadResult>>();

  constructor(cfg: AgentConfig, o: AgentServiceOptions) {
    this.#cfg = cfg;
    this.#now = o.now ?? Date.now;
    this.#log = o.log;
    this.#exec = o.exec;
    this.#cache = new SecretCache({
      maxEntries: cfg.cache.max_entries,
      maxStaleMs: cfg.cache.max_stale * 1000,
      onEvict: (p) => this.#persist && this.#background(this.#persist.remove(p), "evict"),
    });
    this.#leases = new LeaseRenewer({
      now: this.#now,
      renew: (leaseId, increment) =>
        this.#request({ type: "secret:lease_renew", lease_id: leaseId, increment }),
      refetch: (path) =>
        this.#background(
          this.#fetch(path, true).then(() => this.#afterChange([path])),
          "lease refetch",
        ),
      log: this.#log,
    });
  }

  get identity(): Identity | null {
    return this.#identity;
  }

  async start(): Promise<void> {
    await Deno.mkdir(this.#cfg.state_dir, { recursive: true, mode: 0o700 });
    this.#apps = await loadAppTokens(this.#cfg.apps);
    for (const t of this.#cfg.templates) {
      const job = await templateJobFromConfig(t);
      const dir = dirname(t.destination);
      await cleanupStaleTemps(dir, basename(t.destination)).catch(() => 0);
      this.#jobs.push(job);
      for (const p of job.template.paths()) this.#wanted.add(p);
    }
    for (const p of this.#exec?.paths() ?? []) this.#wanted.add(p);

    this.#identity = await loadIdentity(this.#cfg.state_dir);
    await this.#openPersistentCache();

    const app = buildSocketApp(() => this.#apps, {
      read: (p, v) => this.read(p, v),
      status: () => this.status(),
      healthy: () => this.healthy(),
    });
    this.#socket = await serveSocket(
      this.#cfg.listener.socket,
      this.#cfg.listener.mode,
      this.#cfg.listener.group,
      app,
    );
    // Whatever the cache holds is rendered at once, so a device that boots while core is
    // unreachable still gets its files.
    await this.#renderAll();
    await this.#exec?.start(this.#lookup);

    if (this.#identity && usable(this.#identity, this.#now())) this.#startLink();
    else this.#background(this.#bootstrapLoop(), "bootstrap");
    this.#every(
      60_000,
      () => this.#background(this.renewCertificateIfDue(), "certificate renewal"),
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.#leases.stop();
    this.#link?.stop();
    await this.#exec?.stop();
    await this.#socket?.close();
  }

  /** Work nobody awaits: a failure is logged, never an unhandled rejection (which would exit). */
  #background(p: Promise<unknown>, what: string): void {
    p.catch((e) => {
      if (e instanceof LinkOffline) return;
      this.#log("warn", `${what} failed`, { error: (e as Error).message });
    });
  }

  #every(ms: number, f: () => void): void {
    const t = setInterval(f, ms);
    this.#timers.push(t);
  }

  async #openPersistentCache(): Promise<void> {
    if (!this.#cfg.cache.persist) return;
    let material: Uint8Array<ArrayBuffer> | null = null;
    if (this.#cfg.cache.key_file) material = await readCacheKeyFile(this.#cfg.cache.key_file);
    else if (this.#identity) material = keyMaterialFromPrivateKeyPem(this.#identity.keyPem);
    if (!material) return;
    const next = await PersistentCache.open(`${this.#cfg.state_dir}/cache`, material);
    const loaded = await next.loadAll();
    const state = await this.#readLinkState();
    for (const e of loaded.entries) {
      if (this.#cache.version(e.path) !== undefined) continue;
      this.#cache.put({ ...e, confirmedAt: Math.max(e.confirmedAt, state.confirmedAt) });
    }
    for (const s of loaded.skipped) {
      this.#log("warn", "cache file skipped", { file: s.file, reason: s.reason });
    }
    this.#persist = next;
  }

  /**
   * The disk cache key derives from the identity's private key, which a renewal or a new
   * bootstrap just replaced on disk: without rewriting, the next start could read none of it,
   * and a device restarted while offline would have nothing to serve.
   */
  async #rekeyPersistentCache(id: Identity): Promise<void> {
    const next = await PersistentCache.open(
      `${this.#cfg.state_dir}/cache`,
      keyMaterialFromPrivateKeyPem(id.keyPem),
    );
    this.#persist = next;
    for (const e of this.#cache.entries()) await next.save(e);
  }

  async #readLinkState(): Promise<LinkState> {
    try {
      const s = JSON.parse(await Deno.readTextFile(`${this.#cfg.state_dir}/link-state.json`));
      return { confirmedAt: typeof s.confirmedAt === "number" ? s.confirmedAt : 0 };
    } catch {
      return { confirmedAt: 0 };
    }
  }

  async #confirmAll(): Promise<void> {
    const now = this.#now();
    // Only a path core acknowledged a subscription for is pushed on change; any other cached
    // value may have changed unseen, so it keeps ageing towards max_stale.
    let all = true;
    for (const e of this.#cache.entries()) {
      if (this.#link?.subscribed(e.path)) this.#cache.touch(e.path, now);
      else all = false;
    }
    // link-state.json confirms every persisted entry at the next start: only when that is true.
    if (this.#persist && all) {
      await writeFileAtomic(
        `${this.#cfg.state_dir}/link-state.json`,
        JSON.stringify({ confirmedAt: now }),
        { mode: 0o600 },
      ).catch(() => {});
    }
  }

  /**
   * AppRole login → certificate, retried with backoff across the core addresses. Only the step
   * that failed is retried: the login's token is kept (on disk too, for a restart) while it is
   * valid, because the login may have spent a single-use secret-id. It is revoked once the
   * certificate is issued, and given up (revoked if still possible) when it expires or core
   * stops accepting it; an agent stopped mid-way leaves it to its TTL for the next start.
   */
  async #bootstrapLoop(): Promise<void> {
    const stateDir = this.#cfg.state_dir;
    let delay = this.#cfg.link.backoff_initial;
    let i = 0;
    let token: LoginToken | null = await loadLoginToken(stateDir);
    while (!this.#stopped) {
      const address = this.#cfg.core.addresses[i++ % this.#cfg.core.addresses.length];
      try {
        const caCert = this.#cfg.core.ca_file
          ? await Deno.readTextFile(this.#cfg.core.ca_file)
          : undefined;
        const client = new ApiClient({ address, caCert });
        if (token && !loginTokenUsable(token, this.#now())) {
          await revokeLoginToken(client, token.token);
          await forgetLoginToken(stateDir);
          token = null;
        }
        if (!token) {
          const [roleId, secretId] = await Promise.all([
            Deno.readTextFile(this.#cfg.auth.role_id_file),
            Deno.readTextFile(this.#cfg.auth.secret_id_file),
          ]);
          token = await login({
            client,
            agentId: this.#cfg.agent_id,
            roleId: roleId.trim(),
            secretId: secretId.trim(),
            wrapped: this.#cfg.auth.wrapped,
          }, this.#now());
          await saveLoginToken(stateDir, token);
        }
        let id: Identity;
        try {
          id = await issueIdentity(client, this.#cfg.agent_id, token.token);
        } catch (e) {
          if (e instanceof BootstrapError && e.tokenDead) {
            await forgetLoginToken(stateDir);
            token = null;
          }
          throw e;
        }
        await saveIdentity(stateDir, id);
        // Single-use credential: once it has done its job it must not linger on the device.
        await Deno.remove(this.#cfg.auth.secret_id_file).catch(() => {});
        if (!await revokeLoginToken(client, token.token)) {
          this.#log("warn", "login token not revoked; it lapses by its TTL");
        }
        await forgetLoginToken(stateDir);
        token = null;
        this.#identity = id;
        this.#log("info", "bootstrapped", { agent_id: this.#cfg.agent_id, serial: id.serial });
        if (!this.#persist) await this.#openPersistentCache();
        else if (!this.#cfg.cache.key_file) await this.#rekeyPersistentCache(id);
        this.#startLink();
        return;
      } catch (e) {
        this.#lastError = (e as Error).message;
        this.#log("warn", "bootstrap failed; retrying", { error: this.#lastError, address });
      }
      await new Promise((r) => setTimeout(r, delay / 2 + Math.random() * delay / 2));
      delay = Math.min(delay * 2, this.#cfg.link.backoff_max);
    }
  }

  #startLink(): void {
    if (this.#stopped) return;
    const paths = new Set([...this.#wanted, ...this.#cache.entries().map((e) => e.path)]);
    this.#link = new AgentLink({
      urls: this.#cfg.core.agent_addresses,
      credentials: () => this.#identity!,
      version: AGENT_VERSION,
      onPush: (m) => this.#background(this.#onPush(m), "push"),
      onState: (up) => this.#background(this.#onLinkState(up), "link state"),
      onRevoked: () => this.#background(this.#onRevoked(), "revocation"),
      checkRevoked: () => this.#certificateRevoked(),
      backoffInitialMs: this.#cfg.link.backoff_initial,
      backoffMaxMs: this.#cfg.link.backoff_max,
      heartbeatMs: this.#cfg.link.heartbeat,
      log: (msg, f, level) => this.#log(level ?? "info", msg, f),
    });
    this.#background(this.#link.subscribe([...paths]), "subscribe");
    this.#link.start();
    this.#every(this.#cfg.link.heartbeat, () => {
      if (this.#link?.online) this.#background(this.#confirmAll(), "confirm");
    });
  }

  async #onLinkState(up: boolean): Promise<void> {
    this.#log("info", up ? "link up" : "link down");
    if (!up) return;
    // Anything may have changed while we were away: refresh everything we hold or need.
    const paths = [...new Set([...this.#wanted, ...this.#cache.entries().map((e) => e.path)])];
    await Promise.all(paths.map((p) => this.#fetch(p, true)));
    await this.#confirmAll();
    await this.#afterChange(paths);
  }

  /**
   * Core says this agent is revoked: nothing it cached may be served any more, from memory or
   * disk. Templates already rendered stay (they belong to the apps), but are not updated.
   */
  async #onRevoked(): Promise<void> {
    this.#revoked = true;
    this.#log("error", "agent revoked by core: cache wiped, serving stopped");
    for (const e of this.#cache.entries()) await this.#drop(e.path);
    this.#link?.stop();
  }

  /**
   * Asked when the link cannot even be opened: core refuses a revoked certificate at the
   * handshake, which looks like an outage. True only on core's explicit answer; no answer (a
   * real outage) keeps the cache serving.
   */
  async #certificateRevoked(): Promise<boolean> {
    const id = this.#identity;
    if (!id) return false;
    const caCert = this.#cfg.core.ca_file
      ? await Deno.readTextFile(this.#cfg.core.ca_file).catch(() => undefined)
      : undefined;
    for (const address of this.#cfg.core.addresses) {
      try {
        const r = await new ApiClient({ address, caCert }).request(
          "POST",
          "sys/agent/revocation-status",
          { certificate: id.certPem },
        );
        const revoked = (r.body as { data?: { revoked?: unknown } } | null)?.data?.revoked;
        if (r.status === 200 && typeof revoked === "boolean") return revoked;
      } catch {
        // Unreachable: try the next address.
      }
    }
    return false;
  }

  async #onPush(m: CoreMessage): Promise<void> {
    if (m.type === "secret:rotated") {
      await this.#fetch(m.path, true);
      await this.#afterChange([m.path]);
    } else if (m.type === "policy:updated") {
      // Also what templates need but the cache lost (a policy that dropped it, now restored).
      const paths = [...new Set([...this.#wanted, ...this.#cache.entries().map((e) => e.path)])];
      await Promise.all(paths.map((p) => this.#fetch(p, true)));
      await this.#afterChange(paths);
    } else if (m.type === "lease:revoked") {
      const path = this.#leases.pathOf(m.lease_id);
      if (path) {
        await this.#fetch(path, true);
        await this.#afterChange([path]);
      }
    }
  }

  #request(m: Parameters<AgentLink["request"]>[0]): Promise<Record<string, unknown> | null> {
    if (!this.#link) return Promise.reject(new LinkOffline());
    return this.#link.request(m);
  }

  /**
   * Reads through the link and updates the cache; one fetch per path at a time. `fresh` is for
   * callers that know the value changed (a push, a reconnect): a fetch already in flight may
   * have been answered before the change, so they get one that starts after it.
   */
  #fetch(path: string, fresh = false): Promise<ReadResult> {
    const running = this.#inflight.get(path);
    if (running && fresh) {
      const queued = this.#requeued.get(path);
      if (queued) return queued;
      const next = running.catch(() => null).then(() => {
        this.#requeued.delete(path);
        return this.#fetch(path);
      });
      this.#requeued.set(path, next);
      return next;
    }
    if (running) return running;
    const p = this.#fetchNow(path).finally(() => this.#inflight.delete(path));
    this.#inflight.set(path, p);
    return p;
  }

  async #fetchNow(path: string): Promise<ReadResult> {
    try {
      const r = await this.#request({ type: "secret:read", path });
      const data = (r?.data ?? null) as Record<string, unknown> | null;
      const now = this.#now();
      const entry: CacheEntry = {
        path,
        data: data ?? {},
        version: versionOf(data),
        fetchedAt: now,
        confirmedAt: now,
      };
      const leaseSeconds = Number(r?.lease_duration ?? 0);
      if (leaseSeconds > 0) entry.ttlMs = leaseSeconds * 1000;
      this.#cache.put(entry);
      this.#leases.track(path, String(r?.lease_id ?? ""), leaseSeconds, r?.renewable === true);
      await this.#persist?.save(entry);
      if (this.#link) this.#background(this.#link.subscribe([path]), "subscribe");
      return { status: 200, body: envelope(r ?? {}, null) };
    } catch (e) {
      if (e instanceof LinkError) {
        // Gone or no longer allowed: never keep serving it from the cache.
        if (e.status === 403 || e.status === 404) await this.#drop(path);
        return { status: e.status, body: { errors: e.errors } };
      }
      if (e instanceof LinkOffline) return offline("core is unreachable");
      this.#log("warn", "fetch failed", { path, error: (e as Error).message });
      return { status: 500, body: { errors: ["agent error while fetching"] } };
    }
  }

  async #drop(path: string): Promise<void> {
    this.#cache.invalidate(path);
    this.#leases.forget(path);
    await this.#persist?.remove(path);
  }

  /** The socket API's read: cache while current, the link on a miss, fail closed past max_stale. */
  async read(path: string, version: number | undefined): Promise<ReadResult> {
    if (this.#revoked) return { status: 403, body: { errors: ["this agent has been revoked"] } };
    const online = this.#link?.online ?? false;
    if (version !== undefined) {
      if (!online) return offline(`version ${version} of this path is not cached`);
      try {
        const r = await this.#request({ type: "secret:read", path, version });
        return { status: 200, body: envelope(r ?? {}, null) };
      } catch (e) {
        if (e instanceof LinkError) return { status: e.status, body: { errors: e.errors } };
        return offline("core is unreachable");
      }
    }
    const hit = this.#cache.get(path, this.#now());
    if (hit.kind === "hit" && online && (hit.stale || !this.#link!.subscribed(path))) {
      // Past its lease, or not covered by a push subscription: refresh now, and fall back to
      // the cached value only if that fails.
      const r = await this.#fetch(path).catch(() => null);
      if (r?.status === 200) this.#background(this.#afterChange([path]), "render");
      // Gone or no longer allowed: that answer stands (the entry was dropped). Anything else
      // (core unreachable, timed out, failing) falls back to the value we hold.
      if (r && (r.status === 200 || r.status === 403 || r.status === 404)) return r;
    }
    if (hit.kind === "hit") {
      if (online) return { status: 200, body: envelope(responseOf(hit.entry), null) };
      const age = Math.round(hit.ageMs / 1000);
      return {
        status: 200,
        body: envelope(responseOf(hit.entry), [
          `served from the agent cache while core is unreachable (confirmed ${age}s ago)`,
        ]),
      };
    }
    if (hit.kind === "too_stale" && !online) {
      return offline(
        `core is unreachable and the cached value is older than max_stale (${
          Math.round(hit.ageMs / 1000)
        }s > ${Math.round(hit.maxStaleMs / 1000)}s)`,
      );
    }
    if (!online) return offline("core is unreachable and this path is not cached");
    try {
      const r = await this.#fetch(path);
      if (r.status === 200) {
        this.#wanted.add(path);
        // A template or the exec env may have been waiting for this value.
        this.#background(this.#afterChange([path]), "render");
      }
      return r;
    } catch {
      return offline("core is unreachable");
    }
  }

  #lookup: SecretLookup = (path) => {
    const hit = this.#cache.get(path, this.#now());
    if (hit.kind !== "hit") return undefined;
    return fieldsOf(hit.entry.data);
  };

  async #renderAll(): Promise<void> {
    await this.#afterChange(null);
  }

  /** Re-renders the templates (and the exec env) that use any of `paths` (null = all). */
  async #afterChange(paths: string[] | null): Promise<void> {
    const touched = (p: string[]) => paths === null || p.some((x) => paths.includes(x));
    for (const job of this.#jobs) {
      if (!touched(job.template.paths())) continue;
      const out = await job.render(this.#lookup);
      if (out.error && out.changed) {
        // The file holds the new content; only its reload failed.
        this.#log("warn", "template rendered; reload command failed", {
          destination: job.destination,
          error: out.error.message,
        });
      } else if (out.error) {
        this.#log("warn", "template not rendered", {
          destination: job.destination,
          error: out.error.message,
        });
      } else if (out.changed) {
        this.#log("info", "template rendered", { destination: job.destination });
      }
    }
    if (this.#exec && touched(this.#exec.paths())) await this.#exec.update(this.#lookup);
  }

  /** Renews the certificate over the link once 70 % of its life is gone (checked every minute). */
  async renewCertificateIfDue(): Promise<void> {
    const id = this.#identity;
    if (!id || this.#renewing || !this.#link?.online || !renewalDue(id, this.#now())) return;
    this.#renewing = true;
    try {
      const { keyPem, csrPem } = await newKeyAndCsr(this.#cfg.agent_id);
      const data = await this.#request({ type: "cert:renew", csr: csrPem }) as IssuedCert | null;
      if (!data?.certificate) throw new Error("no certificate in the renewal answer");
      const next = identityFrom(keyPem, data, id.caPem);
      await saveIdentity(this.#cfg.state_dir, next);
      this.#identity = next;
      if (!this.#cfg.cache.key_file && this.#persist) await this.#rekeyPersistentCache(next);
      this.#log("info", "certificate renewed", { serial: next.serial });
      // Reconnect so the link presents the new certificate.
      this.#link.stop();
      this.#link.start();
    } catch (e) {
      this.#log("warn", "certificate renewal failed", { error: (e as Error).message });
    } finally {
      this.#renewing = false;
    }
  }

  healthy(): boolean {
    if (this.#revoked) return false;
    if (this.#link?.online) return true;
    const now = this.#now();
    return this.#cache.entries().length > 0 &&
      this.#cache.entries().every((e) => now - e.confirmedAt <= this.#cache.maxStaleMs);
  }

  status(): Record<string, unknown> {
    const now = this.#now();
    const online = this.#link?.online ?? false;
    const oldest = this.#cache.oldestAgeMs(now);
    return {
      agent_id: this.#cfg.agent_id,
      version: AGENT_VERSION,
      online,
      connected_url: online ? this.#link?.connectedUrl ?? "" : "",
      bootstrapped: this.#identity !== null,
      revoked: this.#revoked,
      certificate: this.#identity
        ? {
          serial_number: this.#identity.serial,
          expiration: Math.floor(this.#identity.notAfter / 1000),
        }
        : null,
      cache: {
        entries: this.#cache.size,
        persistent: this.#persist !== null,
        staleness_seconds: online ? 0 : Math.round(oldest / 1000),
        max_stale_seconds: Math.round(this.#cache.maxStaleMs / 1000),
        serving: this.healthy(),
      },
      last_error: this.#lastError || null,
      memory: memory(),
    };
  }
}

/** An app's token file: used as it is, or created (0600) with a fresh token for the app to read. */
async function loadAppTokens(apps: AgentConfig["apps"]): Promise<LocalApp[]> {
  const out: LocalApp[] = [];
  for (const a of apps) {
    let token = "";
    try {
      token = (await Deno.readTextFile(a.token_file)).trim();
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    if (!token) {
      token = `sha.${randomBase62(32)}`;
      await writeFileAtomic(a.token_file, token + "\n", { mode: 0o600 });
    }
    if (token.length < 16) {
      throw new Error(`app "${a.name}": token in ${a.token_file} is too short`);
    }
    out.push({ name: a.name, token, paths: a.paths });
  }
  return out;
}

function versionOf(data: Record<string, unknown> | null): number | undefined {
  const v = (data?.metadata as { version?: unknown } | undefined)?.version;
  return typeof v === "number" ? v : undefined;
}

/** KV v2 answers nest the fields under data.data; everything else is flat. */
export function fieldsOf(data: Record<string, unknown>): Record<string, unknown> {
  const inner = data.data;
  if (
    inner && typeof inner === "object" && !Array.isArray(inner) && data.metadata &&
    typeof data.metadata === "object"
  ) return inner as Record<string, unknown>;
  return data;
}

function responseOf(e: CacheEntry): Record<string, unknown> {
  return {
    data: e.data,
    lease_duration: e.ttlMs ? Math.round(e.ttlMs / 1000) : 0,
  };
}

function envelope(r: Record<string, unknown>, warnings: string[] | null): Record<string, unknown> {
  return {
    request_id: crypto.randomUUID(),
    lease_id: r.lease_id ?? "",
    renewable: r.renewable ?? false,
    lease_duration: r.lease_duration ?? 0,
    data: r.data ?? null,
    wrap_info: null,
    warnings,
    auth: null,
  };
}

function memory(): Record<string, number> {
  const m = Deno.memoryUsage();
  const mb = (n: number) => Number((n / 1048576).toFixed(1));
  return { rss_mb: mb(m.rss), heap_used_mb: mb(m.heapUsed), heap_total_mb: mb(m.heapTotal) };
}

function offline(reason: string): ReadResult {
  return { status: 503, body: { errors: [reason] } };
}
