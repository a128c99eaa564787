/**
 * The agent hub: one live link per agent, identified only by its verified client certificate.
 * Each link acts through a short-lived service token carrying the agent's policies, and every
 * read goes through the same pipeline as an HTTP read, so ACL, conditions and audit are the
 * same code. Committed writes to subscribed paths are pushed as `secret:rotated` (path and
 * version only; the agent then reads through its policies). A link lives no longer than the
 * certificate it was opened with, and does nothing before the agent's `agent:hello`.
 */
import {
  AGENT_REVOKED_CLOSE,
  AgentMessage,
  type CoreMessage,
  HEARTBEAT_MS,
  parseFrame,
  PROTOCOL_VERSION,
  subscriptionMatches,
} from "../../lib/agent_protocol.ts";
import type { Core } from "../core.ts";
import type { WriteEvent } from "../events.ts";
import type { Pipeline } from "../http/pipeline.ts";
import { log } from "../log.ts";
import type { PolicyStore } from "../policy/store.ts";
import { LINK_TOKEN_PATH } from "../token/token_store.ts";

/** What the hub needs from a WebSocket, whichever library carries it. */
export interface LinkSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export interface AgentPeer {
  id: string;
  serial: string;
  remoteAddress: string;
  /** The link certificate's notAfter, Unix ms. */
  notAfter: number;
}

/** Issues an agent certificate for a CSR over the link (set by whoever owns the identity CA). */
export type CertRenewer = (agentId: string, csr: string) => Promise<Record<string, unknown>>;

export interface AgentConnectionInfo {
  agent_id: string;
  connected: boolean;
  connected_at: string;
  last_seen: string;
  version: string;
  remote_address: string;
  certificate_serial: string;
  subscriptions: number;
}

/** Token lifetime per link; renewed by heartbeats, so a dead link's token lapses within it. */
const LINK_TOKEN_TTL = 3600;
const MAX_TRACKED_LEASES = 100_000;
/** Matches the agent's default cache bound (cache.max_entries), one subscription per entry. */
const MAX_SUBSCRIPTIONS = 10_000;
/** Without any frame for this long the link is presumed dead and closed. */
const SILENCE_LIMIT_MS = HEARTBEAT_MS * 2 + 15_000;
/**
 * The link's certificate expired: not the revocation code (the agent keeps its cache), and its
 * reconnect with that certificate is refused at the TLS handshake.
 */
export const CERT_EXPIRED_CLOSE = 4005;
/** A frame before `agent:hello`, or a protocol this core does not speak (RFC 6455). */
const PROTOCOL_ERROR_CLOSE = 1002;
/** setTimeout's limit; a certificate may live 30 days, so the expiry timer re-arms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The protocol's bound on ids: a longer one is not echoed back. */
const MAX_ID_LENGTH = 64;

class Session {
  readonly subscriptions = new Set<string>();
  readonly connectedAt: number;
  lastSeen: number;
  version = "";
  token = "";
  closed = false;
  /** Set by an `agent:hello` with a protocol this core speaks; nothing else is served before. */
  hello = false;
  expiry: ReturnType<typeof setTimeout> | undefined;
  #pushSeq = 0;

  constructor(readonly peer: AgentPeer, readonly socket: LinkSocket, now: number) {
    this.connectedAt = now;
    this.lastSeen = now;
  }

  send(m: CoreMessage): void {
    if (this.closed) return;
    try {
      this.socket.send(JSON.stringify(m));
    } catch {
      // The close handler cleans up; a failed send has nothing more to do.
    }
  }

  nextPushId(): string {
    return `p${++this.#pushSeq}`;
  }
}

export class AgentHub {
  readonly #core: Core;
  readonly #pipeline: Pipeline;
  readonly #sessions = new Map<string, Session>();
  /**
   * One link token per agent, kept across its sessions: leases an agent obtains belong to this
   * token, and a reconnect must not revoke the credentials it still holds. The token lapses by
   * its TTL when the agent stays away, and is revoked with the agent (suspend, revoke).
   */
  readonly #tokens = new Map<string, { token: string; policies: string }>();
  /** lease_id → agent that read it, so a revoked lease is pushed to the agent holding it. */
  readonly #leaseHolders = new Map<string, string>();
  #renewCert: CertRenewer | null = null;
  #sweep: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: () => void;
  #unsubscribeLeases: () => void;
  /**
   * The policy store and its generation agents were last told about. A store is new at every
   * unseal (and every link drops at seal), so a new one is only a new baseline.
   */
  #policyStore: PolicyStore | null = null;
  #policyGeneration = 0;

  constructor(core: Core, pipeline: Pipeline) {
    this.#core = core;
    this.#pipeline = pipeline;
    this.#unsubscribe = core.events.onWrite((e) => this.#onWrite(e));
    this.#unsubscribeLeases = core.events.onLeaseRevoked((id) => this.#onLeaseRevoked(id));
    this.#sweep = setInterval(() => this.closeSilent(), HEARTBEAT_MS);
    Deno.unrefTimer(this.#sweep);
  }

  setCertRenewer(f: CertRenewer): void {
    this.#renewCert = f;
  }

  /** Called once the transport is open and the peer certificate verified. */
  async attach(peer: AgentPeer, socket: LinkSocket, policies: string[]): Promise<Session> {
    const old = this.#sessions.get(peer.id);
    if (old) this.#end(old, 4000, "replaced by a newer connection");
    const s = new Session(peer, socket, this.#core.now());
    this.#sessions.set(peer.id, s);
    this.#armExpiry(s);
    if (s.closed) return s;
    this.#policyChanged();
    let token: string;
    try {
      token = await this.#linkToken(peer, policies);
    } catch (e) {
      // No token, no link: never leave a registered session that cannot act.
      this.detach(s);
      throw e;
    }
    if (s.closed) return s;
    s.token = token;
    log.info("agent connected", { agent_id: peer.id, remote_address: peer.remoteAddress });
    return s;
  }

  /** Closes the link when its certificate's notAfter passes (by core's clock). */
  #armExpiry(s: Session): void {
    const left = s.peer.notAfter - this.#core.now();
    if (left <= 0) {
      this.#end(s, CERT_EXPIRED_CLOSE, "certificate expired");
      return;
    }
    s.expiry = setTimeout(() => {
      if (!s.closed) this.#armExpiry(s);
    }, Math.min(left, MAX_TIMER_MS));
    Deno.unrefTimer(s.expiry);
  }

  /** A frame from the agent. Never throws: bad frames get an `error` reply. */
  async onFrame(s: Session, raw: unknown): Promise<void> {
    s.lastSeen = this.#core.now();
    const parsed = parseFrame(AgentMessage, raw);
    if (!parsed.ok) {
      s.send({ type: "error", id: replyId(parsed.id), status: 400, errors: [parsed.error] });
      if (!s.hello) this.#end(s, PROTOCOL_ERROR_CLOSE, "agent:hello expected");
      return;
    }
    const m = parsed.msg;
    // Decided before anything is awaited: frames are handled concurrently, and the ones after
    // the hello must find it done.
    if (m.type === "agent:hello") {
      if (m.protocol !== PROTOCOL_VERSION) {
        s.send({
          type: "error",
          id: m.id,
          status: 400,
          errors: [
            `unsupported protocol version ${m.protocol}: this core speaks ${PROTOCOL_VERSION}`,
          ],
        });
        this.#end(s, PROTOCOL_ERROR_CLOSE, "unsupported protocol version");
        return;
      }
      s.hello = true;
    } else if (!s.hello) {
      // An ack answers a push, and none is sent before the hello: nothing to refuse.
      if (m.type === "ack") return;
      s.send({ type: "error", id: m.id, status: 400, errors: ["agent:hello expected first"] });
      this.#end(s, PROTOCOL_ERROR_CLOSE, "agent:hello expected");
      return;
    }
    try {
      await this.#dispatch(s, m);
    } catch (e) {
      const status = typeof (e as { status?: unknown }).status === "number"
        ? (e as { status: number }).status
        : 500;
      const errors = status === 500 ? ["internal error"] : [(e as Error).message];
      s.send({ type: "error", id: m.id, status, errors });
    }
  }

  /**
   * The certificate the link was opened with is still good (the expiry timer and revocation
   * hooks close links as it happens; this holds where a timer or hook has not run yet). Else
   * the link ends and the request is refused.
   */
  async #certStillValid(s: Session, id: string): Promise<boolean> {
    const identity = this.#core.identity;
    let close: [number, string] | null = null;
    if (this.#core.now() >= s.peer.notAfter) close = [CERT_EXPIRED_CLOSE, "certificate expired"];
    else if (!identity || await identity.pki.isRevoked(s.peer.serial)) {
      close = [AGENT_REVOKED_CLOSE, "certificate revoked"];
    }
    if (!close) return true;
    s.send({ type: "error", id, status: 403, errors: ["permission denied", close[1]] });
    this.#end(s, ...close);
    return false;
  }

  async #dispatch(s: Session, m: AgentMessage): Promise<void> {
    switch (m.type) {
      case "agent:hello":
        s.version = m.version;
        s.send({ type: "ack", id: m.id, data: { protocol: PROTOCOL_VERSION } });
        return;
      case "agent:heartbeat":
        await this.#keepTokenAlive(s);
        s.send({ type: "ack", id: m.id, data: null });
        return;
      case "ack":
        return;
      case "secret:subscribe": {
        // All or nothing: the agent treats an acked path as pushed-on-change, so a path
        // silently left out would be served stale while the agent believes it current.
        const fresh = m.paths.filter((p) => !s.subscriptions.has(p));
        if (s.subscriptions.size + new Set(fresh).size > MAX_SUBSCRIPTIONS) {
          s.send({
            type: "error",
            id: m.id,
            status: 429,
            errors: [`too many subscriptions: at most ${MAX_SUBSCRIPTIONS} per agent`],
          });
          return;
        }
        for (const p of fresh) s.subscriptions.add(p);
        s.send({ type: "ack", id: m.id, data: { subscriptions: s.subscriptions.size } });
        return;
      }
      case "secret:read": {
        // The link's token is the hub's, not the agent's: lookup-self would hand it out, and it
        // works over plain HTTP from anywhere.
        if (m.path === "auth/token" || m.path.startsWith("auth/token/")) {
          s.send({
            type: "error",
            id: m.id,
            status: 403,
            errors: ["permission denied", "token endpoints are not available over the agent link"],
          });
          return;
        }
        if (!await this.#certStillValid(s, m.id)) return;
        const q = m.version !== undefined ? `?version=${m.version}` : "";
        await this.#forward(s, m.id, "GET", `/v1/${encodePath(m.path)}${q}`);
        return;
      }
      case "secret:lease_renew":
        if (!await this.#certStillValid(s, m.id)) return;
        await this.#forward(s, m.id, "PUT", "/v1/sys/leases/renew", {
          lease_id: m.lease_id,
          ...(m.increment !== undefined ? { increment: m.increment } : {}),
        });
        return;
      case "cert:renew": {
        if (!this.#renewCert) {
          s.send({
            type: "error",
            id: m.id,
            status: 501,
            errors: ["certificate renewal unavailable"],
          });
          return;
        }
        if (!await this.#certStillValid(s, m.id)) return;
        const data = await this.#renewCert(s.peer.id, m.csr);
        s.send({ type: "ack", id: m.id, data });
        return;
      }
    }
  }

  /** Runs a request through the HTTP pipeline as the link's token and relays the answer. */
  async #forward(
    s: Session,
    id: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<void> {
    const headers: Record<string, string> = { "x-vault-token": s.token };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await this.#pipeline.handle(
      new Request(`http://agent-link${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
      s.peer.remoteAddress,
      undefined,
      true,
    );
    const text = await res.text();
    // Whatever the route, an answer holding the link's own token is never relayed.
    if (s.token && text.includes(s.token)) {
      log.warn("agent link: an answer holding the link token was withheld", {
        agent_id: s.peer.id,
        path,
      });
      s.send({ type: "error", id, status: 403, errors: ["permission denied"] });
      return;
    }
    let json: { errors?: string[]; [k: string]: unknown };
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      // A PEM, a metrics page: nothing the agent can cache or render as a secret.
      s.send({
        type: "error",
        id,
        status: res.status >= 400 ? res.status : 400,
        errors: [res.status >= 400 ? "request failed" : "not a JSON secret"],
      });
      return;
    }
    if (res.status >= 400) {
      s.send({ type: "error", id, status: res.status, errors: json.errors ?? [] });
      return;
    }
    if (typeof json.lease_id === "string" && json.lease_id) {
      this.#noteLease(s.peer.id, json.lease_id);
    }
    s.send({
      type: "ack",
      id,
      data: {
        data: json.data ?? null,
        lease_id: json.lease_id ?? "",
        lease_duration: json.lease_duration ?? 0,
        renewable: json.renewable ?? false,
      },
    });
  }

  /** The agent's link token: the one it had if still valid with the same policies, else new. */
  async #linkToken(peer: AgentPeer, given: string[]): Promise<string> {
    const policies = linkPolicies(given);
    const key = policies.join(",");
    const held = this.#tokens.get(peer.id);
    if (held && held.policies === key) {
      const entry = await this.#core.tokens.lookup(held.token);
      // Past its maximum TTL a token cannot be renewed: the agent gets a new one.
      if (
        entry && await this.#core.tokens.renew(entry, LINK_TOKEN_TTL).then(() => true, () => false)
      ) {
        return held.token;
      }
    }
    // A token with other policies is left to lapse by its TTL rather than revoked: the leases
    // it holds are credentials the agent may still be serving.
    return await this.#newLinkToken(peer, policies, key);
  }

  async #newLinkToken(peer: AgentPeer, policies: string[], key: string): Promise<string> {
    const { token } = await this.#core.tokens.create({
      policies: linkPolicies(policies),
      parent: null,
      displayName: `agent-${peer.id}`,
      ttl: LINK_TOKEN_TTL,
      explicitMaxTtl: 0,
      path: LINK_TOKEN_PATH,
      meta: { agent_id: peer.id },
      source: `agent-link/${peer.id}`,
    });
    this.#tokens.set(peer.id, { token, policies: key });
    return token;
  }

  /**
   * The agent may no longer act (suspended, revoked): every link token it was ever given (also
   * those from before a core restart, which only the source index still knows) goes, and with
   * them the leases it obtained.
   */
  forgetAgent(agentId: string): void {
    this.#tokens.delete(agentId);
    if (this.#core.sealed) return;
    void this.#core.tokens.revokeSource(`agent-link/${agentId}`).catch(() => {
      // Sealed meanwhile: the tokens lapse by their TTL.
    });
  }

  #onLeaseRevoked(leaseId: string): void {
    const agentId = this.#leaseHolders.get(leaseId);
    if (agentId === undefined) return;
    this.#leaseHolders.delete(leaseId);
    const s = this.#sessions.get(agentId);
    // An agent away now re-reads everything when it reconnects.
    s?.send({ type: "lease:revoked", id: s.nextPushId(), lease_id: leaseId });
  }

  #noteLease(agentId: string, leaseId: string): void {
    if (!leaseId) return;
    // Bounded: the oldest entries go first (their leases have most likely ended already).
    this.#leaseHolders.delete(leaseId);
    if (this.#leaseHolders.size >= MAX_TRACKED_LEASES) {
      this.#leaseHolders.delete(this.#leaseHolders.keys().next().value!);
    }
    this.#leaseHolders.set(leaseId, agentId);
  }

  async #keepTokenAlive(s: Session): Promise<void> {
    const entry = await this.#core.tokens.lookup(s.token);
    if (!entry) {
      // Revoked under the link (by an operator): reconnecting re-checks the agent at handshake.
      this.#end(s, 4001, "link token revoked");
      return;
    }
    if (this.#core.tokens.ttlOf(entry) >= LINK_TOKEN_TTL / 2) return;
    if (await this.#core.tokens.renew(entry, LINK_TOKEN_TTL).then(() => true, () => false)) return;
    // At its maximum TTL: the live link carries on with a new token.
    const policies = linkPolicies(entry.policies);
    s.token = await this.#newLinkToken(s.peer, policies, policies.join(","));
  }

  /** Transport closed (either side). */
  detach(s: Session): void {
    if (s.closed) return;
    s.closed = true;
    clearTimeout(s.expiry);
    if (this.#sessions.get(s.peer.id) === s) this.#sessions.delete(s.peer.id);
    log.info("agent disconnected", { agent_id: s.peer.id });
  }

  #end(s: Session, code: number, reason: string): void {
    try {
      s.socket.close(code, reason);
    } catch {
      // Already closing.
    }
    this.detach(s);
  }

  /** Operator action or revocation: drop the live link, if any. */
  disconnect(agentId: string, reason = "disconnected by operator"): boolean {
    const s = this.#sessions.get(agentId);
    if (!s) return false;
    this.#end(s, 4001, reason);
    return true;
  }

  /** The agent was revoked: a distinct close code tells it to stop serving what it cached. */
  revoked(agentId: string): boolean {
    this.forgetAgent(agentId);
    const s = this.#sessions.get(agentId);
    if (!s) return false;
    this.#end(s, AGENT_REVOKED_CLOSE, "agent revoked");
    return true;
  }

  /** Drops links whose certificate serial is no longer acceptable. */
  disconnectSerial(serial: string): void {
    for (const s of this.#sessions.values()) {
      if (sameSerial(s.peer.serial, serial)) {
        this.#end(s, AGENT_REVOKED_CLOSE, "certificate revoked");
      }
    }
  }

  connections(): AgentConnectionInfo[] {
    return [...this.#sessions.values()].map((s) => ({
      agent_id: s.peer.id,
      connected: true,
      connected_at: new Date(s.connectedAt).toISOString(),
      last_seen: new Date(s.lastSeen).toISOString(),
      version: s.version,
      remote_address: s.peer.remoteAddress,
      certificate_serial: s.peer.serial,
      subscriptions: s.subscriptions.size,
    }));
  }

  connection(agentId: string): AgentConnectionInfo | undefined {
    return this.connections().find((c) => c.agent_id === agentId);
  }

  #onWrite(e: WriteEvent): void {
    // Policies change through sys/ writes, but not every sys/ write (the simulator) changes one.
    if (e.path.startsWith("sys/")) {
      this.#policyChanged();
      return;
    }
    // A cubbyhole path names the caller's own token's storage: another token's write there
    // says nothing about what this agent can read, and its path may itself be a secret.
    if (e.mountType === "cubbyhole") return;
    const dataPath = e.mountType === "kv" ? kvDataPath(e.path) : e.path;
    if (!dataPath) return;
    for (const s of this.#sessions.values()) {
      if (!s.hello) continue;
      if (![...s.subscriptions].some((p) => subscriptionMatches(p, dataPath))) continue;
      void this.#pushIfReadable(s, dataPath, e.version ?? 0);
    }
  }

  /** Tells every agent when the policy store's generation moved since it last looked. */
  #policyChanged(): void {
    let store: PolicyStore;
    try {
      store = this.#core.policies;
    } catch {
      return; // sealed
    }
    const generation = store.generation;
    if (store !== this.#policyStore) {
      this.#policyStore = store;
      this.#policyGeneration = generation;
      return;
    }
    if (generation === this.#policyGeneration) return;
    this.#policyGeneration = generation;
    for (const s of this.#sessions.values()) {
      if (s.hello) s.send({ type: "policy:updated", id: s.nextPushId() });
    }
  }

  /** Even a path name and version are only told to an agent whose policies could read them. */
  async #pushIfReadable(s: Session, path: string, version: number): Promise<void> {
    try {
      const entry = await this.#core.tokens.lookup(s.token);
      if (!entry) return;
      const acl = await this.#core.policies.acl(entry.policies);
      const d = acl.check(path, "read", false, {
        remoteAddress: s.peer.remoteAddress || undefined,
        now: this.#core.now(),
        tokenTtl: this.#core.tokens.ttlOf(entry),
      });
      if (d.allowed) s.send({ type: "secret:rotated", id: s.nextPushId(), path, version });
    } catch {
      // Sealed or shutting down: the agent re-reads after it reconnects.
    }
  }

  /** Ends links silent for longer than two heartbeats and a margin (run every heartbeat). */
  closeSilent(): void {
    const now = this.#core.now();
    for (const s of [...this.#sessions.values()]) {
      if (now - s.lastSeen > SILENCE_LIMIT_MS) this.#end(s, 4002, "heartbeat timeout");
    }
  }

  async #revokeToken(token: string): Promise<void> {
    if (!token || this.#core.sealed) return;
    try {
      const e = await this.#core.tokens.lookup(token);
      if (e) await this.#core.tokens.revoke(e);
    } catch {
      // Sealed meanwhile: the token lapses by its TTL.
    }
  }

  /** On seal: every link drops; agents reconnect (and are refused) until core is unsealed. */
  disconnectAll(reason = "core sealed"): void {
    for (const s of [...this.#sessions.values()]) this.#end(s, 1001, reason);
    // Sealed means no secret in memory: the link tokens too (agents get new ones later).
    this.#tokens.clear();
    this.#leaseHolders.clear();
  }

  close(): void {
    clearInterval(this.#sweep);
    this.#unsubscribe();
    this.#unsubscribeLeases();
    this.disconnectAll("server shutting down");
  }
}

/** secret/{data,metadata,delete,undelete,destroy}/x → secret/data/x (what agents subscribe to). */
export function kvDataPath(path: string): string | null {
  const m = /^([^/]+(?:\/[^/]+)*?)\/(data|metadata|delete|undelete|destroy)\/(.+)$/.exec(path);
  return m ? `${m[1]}/data/${m[3]}` : null;
}

/** The policies a link token gets: never root, whatever the agent's record says. */
function linkPolicies(policies: readonly string[]): string[] {
  return [...new Set(policies)].filter((p) => p !== "root").sort();
}

/** An id the protocol allows is echoed; anything else (absent, too long) is not. */
function replyId(id: string | null): string {
  return id && id.length <= MAX_ID_LENGTH ? id : "";
}

function encodePath(p: string): string {
  return p.split("/").map(encodeURIComponent).join("/");
}

function sameSerial(a: string, b: string): boolean {
  const norm = (x: string) => x.replace(/[:\s]/g, "").toLowerCase().replace(/^0+/, "");
  return norm(a) === norm(b);
}
