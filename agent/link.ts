/**
 * The agent's end of the link: an mTLS WebSocket to core's agent listener, rotating across the
 * configured addresses with exponential backoff and jitter, heartbeats with acknowledgement,
 * and request/response correlation by id. Subscriptions are remembered and re-sent on every
 * reconnect, so a flapping link never silently loses them.
 */
import {
  AGENT_REVOKED_CLOSE,
  type AgentMessage,
  CoreMessage,
  HEARTBEAT_MS,
  logicalPathProblem,
  parseFrame,
  PROTOCOL_VERSION,
} from "../lib/agent_protocol.ts";

/** The protocol's bound on one `secret:subscribe` frame. */
const MAX_PATHS_PER_FRAME = 1000;

export interface LinkCredentials {
  certPem: string;
  keyPem: string;
  caPem: string;
}

export interface LinkOptions {
  /** wss:// URLs of core agent listeners; `/v1/agent/connect` is appended when no path is given. */
  urls: string[];
  credentials: () => LinkCredentials;
  version: string;
  onPush: (m: CoreMessage) => void;
  onState: (online: boolean) => void;
  /** Core closed the link because this agent or its certificate was revoked. */
  onRevoked?: () => void;
  /**
   * Asked after a connection attempt failed before the WebSocket opened: true only when core
   * answered that this agent's certificate is revoked (then onRevoked runs and the link stops).
   * Anything else, including no answer, is an outage and the link keeps retrying.
   */
  checkRevoked?: () => Promise<boolean>;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  heartbeatMs?: number;
  /** How long a request (including a heartbeat) may wait for its answer. */
  requestTimeoutMs?: number;
  log?: (msg: string, fields?: Record<string, unknown>, level?: "info" | "warn") => void;
}

/** Core answered with an error frame (status as HTTP would have it). */
export class LinkError extends Error {
  constructor(readonly status: number, readonly errors: string[]) {
    super(errors.join("; ") || `status ${status}`);
  }
}

/** The link is down; the caller decides whether the cache may answer instead. */
export class LinkOffline extends Error {
  constructor() {
    super("not connected to core");
  }
}

type Outgoing = AgentMessage extends infer M ? M extends { id: string } ? Omit<M, "id"> : never
  : never;

interface Pending {
  resolve: (data: Record<string, unknown> | null) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export function connectUrl(u: string): string {
  const url = new URL(u);
  if (url.pathname === "/" || url.pathname === "") url.pathname = "/v1/agent/connect";
  return url.toString();
}

export class AgentLink {
  readonly #o:
    & Required<Omit<LinkOptions, "log" | "onRevoked" | "checkRevoked">>
    & Pick<LinkOptions, "log" | "onRevoked" | "checkRevoked">;
  #ws: WebSocket | null = null;
  #client: Deno.HttpClient | null = null;
  #online = false;
  #stopped = true;
  #urlIndex = 0;
  #failures = 0;
  #seq = 0;
  #pending = new Map<string, Pending>();
  #subscriptions = new Set<string>();
  /** Paths core acknowledged on the current connection. */
  #acked = new Set<string>();
  /**
   * Paths sent on the current connection, acknowledged or not: a refusal that may pass later
   * (core's subscription limit) is retried on the next connection, not on every read.
   */
  #sent = new Set<string>();
  /** Paths core cannot accept: never sent again (and logged once), so the others still are. */
  #rejected = new Set<string>();
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  /** Addresses that worked, newest last: what `status` reports. */
  connectedUrl = "";

  constructor(o: LinkOptions) {
    if (!o.urls.length) throw new Error("no agent_addresses configured");
    this.#o = {
      backoffInitialMs: 1000,
      backoffMaxMs: 60_000,
      heartbeatMs: HEARTBEAT_MS,
      requestTimeoutMs: 10_000,
      ...o,
    };
  }

  get online(): boolean {
    return this.#online;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    clearInterval(this.#heartbeatTimer);
    this.#ws?.close(1000, "agent stopping");
    this.#teardown();
  }

  /** Remembered for reconnects; sent now when online. A path core would refuse is dropped. */
  async subscribe(paths: string[]): Promise<void> {
    const fresh: string[] = [];
    for (const p of new Set(paths)) {
      if (this.#rejected.has(p)) continue;
      const problem = logicalPathProblem(p);
      if (problem !== null) {
        this.#reject(p, `path ${problem}`);
        continue;
      }
      this.#subscriptions.add(p);
      if (!this.#sent.has(p)) fresh.push(p);
    }
    const ws = this.#ws;
    if (fresh.length && this.#online && ws) await this.#subscribeOn(ws, fresh);
  }

  /**
   * Core acknowledged this exact path on the current connection, so it pushes every change:
   * only then may a cached value be treated as current.
   */
  subscribed(path: string): boolean {
    return this.#online && this.#acked.has(path);
  }

  /** In frames the protocol accepts; each acked frame's paths count as subscribed. */
  async #subscribeOn(ws: WebSocket, paths: string[]): Promise<void> {
    for (let i = 0; i < paths.length; i += MAX_PATHS_PER_FRAME) {
      await this.#subscribeFrame(ws, paths.slice(i, i + MAX_PATHS_PER_FRAME));
    }
  }

  /**
   * Core refuses a whole frame (400) for one path it cannot accept. Halving the refused frame
   * until the refusal names a single path drops just that one; every other path still gets its
   * pushes, in a few frames rather than one per path.
   */
  async #subscribeFrame(ws: WebSocket, paths: string[]): Promise<void> {
    if (this.#ws === ws) { for (const p of paths) this.#sent.add(p); }
    try {
      await this.#send(ws, { type: "secret:subscribe", paths });
    } catch (e) {
      if (!(e instanceof LinkError) || e.status !== 400) throw e;
      if (paths.length === 1) {
        this.#reject(paths[0]!, e.message);
        return;
      }
      const half = Math.ceil(paths.length / 2);
      await this.#subscribeFrame(ws, paths.slice(0, half));
      await this.#subscribeFrame(ws, paths.slice(half));
      return;
    }
    if (this.#ws === ws) { for (const p of paths) this.#acked.add(p); }
  }

  #reject(path: string, why: string): void {
    if (this.#rejected.has(path)) return;
    this.#rejected.add(path);
    this.#subscriptions.delete(path);
    this.#acked.delete(path);
    this.#o.log?.(
      "agent link: subscription refused, path dropped (no pushes for it)",
      { path, error: why },
      "warn",
    );
  }

  request(m: Outgoing): Promise<Record<string, unknown> | null> {
    const ws = this.#ws;
    if (!this.#online || !ws) return Promise.reject(new LinkOffline());
    return this.#send(ws, m);
  }

  #send(ws: WebSocket, m: Outgoing): Promise<Record<string, unknown> | null> {
    const id = `a${++this.#seq}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new LinkOffline());
        // An unanswered request means the link is not really up.
        if (this.#ws === ws) this.#abandon(ws, "request timeout");
      }, this.#o.requestTimeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      try {
        ws.send(JSON.stringify({ ...m, id }));
      } catch {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(new LinkOffline());
      }
    });
  }

  #connect(): void {
    if (this.#stopped) return;
    const url = connectUrl(this.#o.urls[this.#urlIndex % this.#o.urls.length]);
    const c = this.#o.credentials();
    let ws: WebSocket;
    try {
      this.#client?.close();
      this.#client = Deno.createHttpClient({ cert: c.certPem, key: c.keyPem, caCerts: [c.caPem] });
      ws = new WebSocket(url, { client: this.#client } as unknown as string[]);
    } catch (e) {
      this.#o.log?.("agent link: cannot connect", { url, error: (e as Error).message });
      this.#scheduleRetry();
      return;
    }
    this.#ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      void this.#opened(ws, url);
    };
    ws.onmessage = (ev) => this.#onMessage(ev.data);
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      this.#o.log?.("agent link closed", { url, code: ev.code, reason: ev.reason });
      this.#teardown();
      if (ev.code === AGENT_REVOKED_CLOSE) {
        this.#o.onRevoked?.();
        this.#scheduleRetry();
      } else if (!opened && this.#o.checkRevoked) {
        // Refused at the TLS or HTTP handshake looks just like an outage from here.
        void this.#checkRevoked(this.#o.checkRevoked);
      } else {
        this.#scheduleRetry();
      }
    };
    ws.onerror = (ev) => {
      // onclose follows and does the bookkeeping; this only says why.
      this.#o.log?.("agent link error", { url, error: (ev as ErrorEvent).message ?? "" });
    };
  }

  async #checkRevoked(check: () => Promise<boolean>): Promise<void> {
    // A black-holed core would hold the next connect attempt for minutes: no answer in time is
    // an outage too.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), this.#o.requestTimeoutMs);
    });
    const revoked = await Promise.race([check().catch(() => false), timeout]);
    clearTimeout(timer);
    if (this.#stopped) return;
    if (revoked) {
      this.#o.log?.("agent link: core says this agent's certificate is revoked");
      this.#o.onRevoked?.();
      return;
    }
    // A connect started meanwhile (stop/start) owns the retry schedule.
    if (!this.#ws) this.#scheduleRetry();
  }

  async #opened(ws: WebSocket, url: string): Promise<void> {
    try {
      await this.#send(ws, {
        type: "agent:hello",
        version: this.#o.version,
        protocol: PROTOCOL_VERSION,
      });
      try {
        await this.#subscribeOn(ws, [...this.#subscriptions]);
      } catch (e) {
        // Refused (e.g. over core's limit): the link still serves reads, and the paths that
        // were not acked are re-read rather than trusted. Only a dead link fails the handshake.
        if (!(e instanceof LinkError)) throw e;
        this.#o.log?.("agent link: subscriptions refused", { url, error: e.message });
      }
    } catch {
      ws.close(4000, "handshake failed");
      return;
    }
    if (this.#ws !== ws) return;
    this.#failures = 0;
    this.#online = true;
    this.connectedUrl = url;
    this.#o.log?.("agent link up", { url });
    // Paths added while the handshake ran were not in its frames.
    const missed = [...this.#subscriptions].filter((p) => !this.#sent.has(p));
    if (missed.length) {
      this.#subscribeOn(ws, missed).catch((e) => {
        if (e instanceof LinkOffline) return;
        this.#o.log?.("agent link: subscriptions refused", { url, error: (e as Error).message });
      });
    }
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = setInterval(() => {
      this.#send(ws, { type: "agent:heartbeat" }).catch(() => {});
    }, this.#o.heartbeatMs);
    this.#o.onState(true);
  }

  #onMessage(raw: unknown): void {
    const p = parseFrame(CoreMessage, raw);
    if (!p.ok) return;
    const m = p.msg;
    if (m.type === "ack" || m.type === "error") {
      const pending = this.#pending.get(m.id);
      if (!pending) return;
      this.#pending.delete(m.id);
      clearTimeout(pending.timer);
      if (m.type === "ack") pending.resolve(m.data ?? null);
      else pending.reject(new LinkError(m.status, m.errors));
      return;
    }
    try {
      this.#ws?.send(JSON.stringify({ type: "ack", id: m.id }));
    } catch {
      // The close handler reconnects.
    }
    this.#o.onPush(m);
  }

  /**
   * Gives up on a link that stopped answering. A peer that is frozen or behind a black hole never
   * answers the close frame either, so onclose could be minutes away: go offline and reconnect
   * now, and let that socket's late close be ignored (it is no longer #ws).
   */
  #abandon(ws: WebSocket, reason: string): void {
    this.#o.log?.("agent link abandoned", { reason });
    try {
      ws.close(4000, reason);
    } catch { /* already closing */ }
    this.#teardown();
    this.#scheduleRetry();
  }

  #teardown(): void {
    const wasOnline = this.#online;
    this.#online = false;
    this.#ws = null;
    this.#acked.clear();
    this.#sent.clear();
    clearInterval(this.#heartbeatTimer);
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new LinkOffline());
      this.#pending.delete(id);
    }
    if (wasOnline) this.#o.onState(false);
  }

  /** Next address, after a full-jitter delay: base·2^failures capped at the maximum. */
  #scheduleRetry(): void {
    if (this.#stopped) return;
    this.#urlIndex++;
    const cap = Math.min(this.#o.backoffMaxMs, this.#o.backoffInitialMs * 2 ** this.#failures);
    this.#failures = Math.min(this.#failures + 1, 30);
    const delay = cap / 2 + Math.random() * cap / 2;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }
}
