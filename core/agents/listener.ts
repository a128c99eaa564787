/**
 * The agent listener: the mTLS listener plus the WebSocket route `/v1/agent/connect`. Only a
 * verified certificate with an agent identity (`urn:secrethub:agent:<id>`) of an active agent
 * may open a link; apps' certificates are refused here. The listener follows the seal: it runs
 * while unsealed (it needs the identity CA) and stops on seal.
 */
import { X509Certificate } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { upgradeWebSocket } from "@hono/node-server";
import { WebSocketServer } from "ws";
import type { Core } from "../core.ts";
import { type MtlsServer, serveMtls } from "../identity/mtls_listener.ts";
import { Pipeline } from "../http/pipeline.ts";
import { AGENT_REVOKED_CLOSE, MAX_FRAME_BYTES } from "../../lib/agent_protocol.ts";
import { AgentHub } from "./hub.ts";
import { log } from "../log.ts";

/** Frames a peer may send before its link is set up; an honest agent waits for nothing. */
const MAX_EARLY_FRAMES = 16;
/** The agent is suspended (or unknown): refused, but not told to wipe what it cached. */
const AGENT_INACTIVE_CLOSE = 4003;

export interface AgentListenerOptions {
  address: string;
  /** DNS names / IPs for the listener's certificate. */
  hosts?: string[];
}

/** Starts on unseal, stops on seal; `current` is the running listener, if any. */
export class AgentListener {
  readonly hub: AgentHub;
  readonly #core: Core;
  readonly #o: AgentListenerOptions;
  current: MtlsServer | null = null;
  #queue: Promise<void> = Promise.resolve();

  constructor(core: Core, o: AgentListenerOptions) {
    this.#core = core;
    this.#o = o;
    this.hub = new AgentHub(core, new Pipeline(core));
    core.agentLinks = this.hub;
    // An unseal must not fail because this listener did: the error is logged instead. A caller
    // of start() gets the error itself.
    core.onUnseal.push(() =>
      void this.start().catch((e) => {
        log.error("agent listener failed to start", { error: (e as Error).message });
      })
    );
    core.onSeal.push(() => void this.stop().catch(() => {}));
  }

  /** Seal and unseal can follow each other quickly (init does both): one transition at a time. */
  #serially(f: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(f);
    this.#queue = run.catch(() => {});
    return run;
  }

  start(): Promise<void> {
    return this.#serially(async () => {
      if (!this.current && !this.#core.sealed) await this.#start();
    });
  }

  async #start(): Promise<void> {
    const hub = this.hub;
    const identity = this.#core.identity;
    if (!identity) throw new Error("identity services are not set up on this core");
    hub.setCertRenewer(async (agentId, csr) => {
      const r = await identity.issueAgent(agentId, csr);
      return r as unknown as Record<string, unknown>;
    });
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
    this.current = await serveMtls(this.#core, {
      address: this.#o.address,
      hosts: this.#o.hosts,
      websocket: wss,
      extend: (app) => {
        app.get(
          "/v1/agent/connect",
          upgradeWebSocket((c) => {
            const peer = c.get("peer");
            const remote = c.env.incoming.socket.remoteAddress ?? "";
            const notAfter = certificateNotAfter(c.env.incoming.socket as TLSSocket);
            let session: Awaited<ReturnType<AgentHub["attach"]>> | null = null;
            let closed = false;
            const early: unknown[] = [];
            return {
              // The adapter does not await onOpen: a rejection here would be unhandled and
              // end the whole core process, so every failure is caught and closes the link.
              async onOpen(_e, ws) {
                if (peer.kind !== "agent") {
                  ws.close(4003, "not an agent certificate");
                  return;
                }
                try {
                  const policies = await identity.agentPolicies(peer.id);
                  if (!policies) {
                    const revoked = (await identity.agents.get(peer.id))?.status === "revoked";
                    ws.close(
                      revoked ? AGENT_REVOKED_CLOSE : AGENT_INACTIVE_CLOSE,
                      revoked ? "agent revoked" : "agent not active",
                    );
                    return;
                  }
                  session = await hub.attach(
                    { id: peer.id, serial: peer.serial, remoteAddress: remote, notAfter },
                    { send: (t) => ws.send(t), close: (code, reason) => ws.close(code, reason) },
                    policies,
                  );
                  // A suspension or revocation that landed while the link was set up found no
                  // link to drop and may have revoked link tokens before this one was made.
                  const status = (await identity.agents.get(peer.id))?.status;
                  if (status === "revoked") hub.revoked(peer.id);
                  else if (status !== "active") {
                    hub.disconnect(peer.id, "agent not active");
                    hub.forgetAgent(peer.id);
                  }
                  if (status !== "active") return;
                } catch (e) {
                  log.warn("agent link set-up failed", {
                    agent_id: peer.id,
                    error: (e as Error).message,
                  });
                  early.length = 0;
                  ws.close(1011, "link set-up failed");
                  return;
                }
                // Closed while being set up: onClose found no session to detach.
                if (closed) {
                  hub.detach(session);
                  return;
                }
                for (const m of early.splice(0)) void hub.onFrame(session, m);
              },
              onMessage(e) {
                if (session) void hub.onFrame(session, e.data);
                else if (!closed && early.length < MAX_EARLY_FRAMES) early.push(e.data);
              },
              onClose() {
                closed = true;
                early.length = 0;
                if (session) hub.detach(session);
              },
            };
          }),
        );
      },
    });
    log.info("agent listener up", { address: this.current.url });
  }

  stop(): Promise<void> {
    return this.#serially(async () => {
      const s = this.current;
      this.current = null;
      this.hub.disconnectAll();
      await s?.close();
    });
  }

  async close(): Promise<void> {
    await this.stop();
    this.hub.close();
  }
}

/** The peer certificate's notAfter (Unix ms); 0, so the link ends at once, if unreadable. */
function certificateNotAfter(socket: TLSSocket): number {
  try {
    const raw = socket.getPeerCertificate?.()?.raw;
    return raw ? new X509Certificate(raw).validToDate.getTime() : 0;
  } catch {
    return 0;
  }
}
