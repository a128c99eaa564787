/**
 * The mTLS listener: node:https (Deno.serve cannot ask for client certificates) with Hono via
 * @hono/node-server. The handshake requires a certificate chaining to the identity CA; then every
 * request (not just the handshake) runs verifyPeer, so a certificate revoked, or an app suspended,
 * after the connection opened is refused at once (403). Verified requests go through the normal
 * pipeline with the peer identity attached. Node's HTTP parser refuses the LIST method, so lists
 * here use `GET …?list=true`.
 */
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { type HttpBindings, serve, type WebSocketServerLike } from "@hono/node-server";
import { Hono } from "hono";
import type { Core } from "../core.ts";
import { Pipeline } from "../http/pipeline.ts";
import { parseAddress } from "../listen_address.ts";
import type { PeerIdentity } from "../router/types.ts";

export type MtlsEnv = { Bindings: HttpBindings; Variables: { peer: PeerIdentity } };

export interface MtlsOptions {
  /** HOST:PORT; port 0 picks a free one. */
  address: string;
  /** Names for the server certificate; defaults to the listen host plus localhost/127.0.0.1. */
  hosts?: string[];
  /** Adds routes (e.g. the agent WebSocket) after peer verification, before the pipeline. */
  extend?: (app: Hono<MtlsEnv>) => void;
  /** A `ws` WebSocketServer ({ noServer: true }) for routes that use upgradeWebSocket. */
  websocket?: WebSocketServerLike;
}

export interface MtlsServer {
  url: string;
  port: number;
  /** The identity CA: what clients trust for this listener's certificate. */
  caPem: string;
  close(): Promise<void>;
}

function denied(): Response {
  return new Response(JSON.stringify({ errors: ["permission denied"] }), {
    status: 403,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

export async function serveMtls(core: Core, o: MtlsOptions): Promise<MtlsServer> {
  const identity = core.identity;
  if (!identity) throw new Error("identity services are not set up on this core");
  const { hostname, port } = parseAddress(o.address);
  const hosts = o.hosts ??
    [...new Set([hostname, "localhost", "127.0.0.1"])].filter((h) => h !== "0.0.0.0" && h !== "::");
  const [caPem, server] = await Promise.all([
    identity.pki.caPem(),
    identity.pki.serverCertificate(hosts),
  ]);
  const pipeline = new Pipeline(core);
  const app = new Hono<MtlsEnv>();
  app.use("*", async (c, next) => {
    const socket = c.env.incoming.socket as TLSSocket;
    const raw = socket.getPeerCertificate?.()?.raw;
    const peer = raw ? await identity.pki.verifyPeer(new Uint8Array(raw)) : null;
    if (!peer) return denied();
    c.set("peer", peer);
    await next();
  });
  o.extend?.(app);
  app.all(
    "/v1/*",
    (c) => pipeline.handle(c.req.raw, c.env.incoming.socket.remoteAddress ?? "", c.get("peer")),
  );

  let resolveInfo: (a: AddressInfo) => void;
  let rejectListen: (e: Error) => void;
  const listening = new Promise<AddressInfo>((resolve, reject) => {
    resolveInfo = resolve;
    rejectListen = reject;
  });
  const srv = serve({
    fetch: app.fetch,
    // Its default swaps the global Request/Response for its own classes, which breaks
    // Deno.serve (the main listener) in the same process.
    overrideGlobalObjects: false,
    ...(o.websocket ? { websocket: { server: o.websocket } } : {}),
    hostname,
    port,
    createServer: https.createServer,
    serverOptions: {
      cert: server.cert,
      key: server.key,
      ca: [caPem],
      requestCert: true,
      rejectUnauthorized: true,
    },
  }, (info) => resolveInfo(info));
  // A bind error (port in use) is an "error" event: without a listener it would be thrown as an
  // uncaught exception and end the whole process; here it fails this start instead.
  const onBindError = (e: Error) => rejectListen(e);
  srv.once("error", onBindError);
  let info: AddressInfo;
  try {
    info = await listening;
  } finally {
    srv.off("error", onBindError);
  }
  const host = info.address.includes(":") ? `[${info.address}]` : info.address;
  return {
    url: `https://${host}:${info.port}`,
    port: info.port,
    caPem,
    close: () =>
      new Promise<void>((resolve) => {
        (srv as https.Server).closeAllConnections?.();
        srv.close(() => resolve());
      }),
  };
}
