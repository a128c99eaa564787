/** Builds a core from config and serves it: the only place that listens. */
import { Core, type CoreOptions } from "./core.ts";
import { buildApp } from "./http/app.ts";
import { sealRoutes } from "./sys/seal_routes.ts";
import { adminRoutes } from "./sys/admin_routes.ts";
import { auditRoutes } from "./sys/audit_routes.ts";
import { tokenRoutes } from "./token/routes.ts";
import { authRoutes } from "./sys/auth_routes.ts";
import { wrappingRoutes } from "./sys/wrapping_routes.ts";
import { toolsRoutes } from "./sys/tools_routes.ts";
import { cubbyholeRoutes } from "./cubbyhole/routes.ts";
import { policyToolRoutes } from "./sys/policy_tools_routes.ts";
import { AUTH_METHODS } from "./auth/registry.ts";
import { SlidingLoginLimiter } from "./auth/limiter.ts";
import { type LibsqlOptions, LibsqlStorage } from "./storage/libsql_storage.ts";
import { createIdentityServices, registerIdentityRoutes } from "./identity/mod.ts";
import { agentRoutes } from "./agents/routes.ts";
import { leaseRoutes } from "./lease/routes.ts";
import { log } from "./log.ts";
import { InFlight } from "./http/in_flight.ts";
import { parseAddress } from "./listen_address.ts";
import {
  bindProblem,
  type ListenerTls,
  readListenerTls,
  StartupError,
  tlsProblem,
} from "./startup.ts";
import type { Hono } from "hono";
import type { AppEnv } from "./http/app.ts";

export interface ServerConfig {
  listener: { address: string; tls_cert_file?: string; tls_key_file?: string };
  storage: { path: string };
  max_request_size?: number;
  request_timeout?: number;
  log_level?: string;
}

export async function createCore(
  dbFile: string,
  o: Omit<CoreOptions, "physical"> = {},
  storage: LibsqlOptions = {},
): Promise<{ core: Core; app: Hono<AppEnv> }> {
  const core = await Core.open({
    authMethods: AUTH_METHODS,
    limiter: new SlidingLoginLimiter(),
    ...o,
    physical: await LibsqlStorage.open(dbFile, storage),
  });
  core.identity = createIdentityServices(core);
  const identitySys = registerIdentityRoutes(core, core.identity);
  core.mounts.addBuiltin("sys/", "system", [
    ...authRoutes(core),
    ...wrappingRoutes(core),
    ...toolsRoutes(),
    ...policyToolRoutes(core),
    ...sealRoutes(core),
    ...adminRoutes(core),
    ...auditRoutes(core),
    ...leaseRoutes(core),
    ...identitySys,
    ...agentRoutes(core),
  ], "system endpoints used for control, policy and debugging");
  core.mounts.addBuiltin("auth/token/", "token", tokenRoutes(core), "token based credentials");
  core.mounts.addBuiltin(
    "cubbyhole/",
    "cubbyhole",
    cubbyholeRoutes(() => core.cubbyhole),
    "per-token private secret storage",
  );
  return { core, app: buildApp(core) };
}

export { parseAddress } from "./listen_address.ts";

export interface RunningServer {
  core: Core;
  addr: { hostname: string; port: number };
  url: string;
  /**
   * Stops taking requests (new ones are answered 503 `server is shutting down` with
   * `Connection: close`) and waits up to `graceMs` for those in flight, uploads included; what
   * is still running then is answered 503 too. Resolves with how many were cut short. Calling it
   * again returns the same drain.
   */
  drain(graceMs?: number): Promise<number>;
  /** Ends a drain's grace period now (a second SIGTERM). */
  hurry(): void;
  /** drain(), then closes the listener and the core (its storage last). */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * How long a shutdown waits for requests in flight, including ones still uploading their body,
 * before answering them 503. Well inside systemd's default stop timeout (and the README's 30 s).
 */
export const SHUTDOWN_GRACE_MS = 10_000;

/**
 * How long a shutdown then waits for the runtime to close the connections (a client that never
 * finishes a body it announced holds its own open) before it closes the storage and exits.
 */
const CONNECTIONS_CLOSE_MS = 3_000;

/**
 * A listener that is bound (the port is taken, the TLS files parsed) but serves nothing yet:
 * the server binds before it opens the storage, so a port in use or a bad certificate fails the
 * start before a database is created. Requests that arrive before `attach` wait for it.
 */
export interface BoundListener {
  url: string;
  addr: { hostname: string; port: number };
  attach(core: Core, app: Hono<AppEnv>): RunningServer;
  /** Closes a listener that was never attached (requests waiting get 503). */
  close(): Promise<void>;
}

type Handler = (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

const notRunning = () =>
  Response.json({ errors: ["server is not running"] }, {
    status: 503,
    headers: { "cache-control": "no-store" },
  });

/**
 * Binds `address` (with TLS when given). Throws a StartupError naming `label` (the config key or
 * flag) and the address, or the TLS file at fault.
 */
export function bindListener(
  address: string,
  tls?: ListenerTls,
  label = "listener.address",
): BoundListener {
  let hostname: string, port: number;
  try {
    ({ hostname, port } = parseAddress(address));
  } catch (e) {
    throw new StartupError(`${label}: ${(e as Error).message}`);
  }
  let handler: Handler | null = null;
  let opened!: () => void;
  const open = new Promise<void>((r) => opened = r);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      {
        hostname,
        port,
        ...(tls ? { cert: tls.cert, key: tls.key } : {}),
        onListen: () => {},
      },
      (req, info) =>
        handler ? handler(req, info) : open.then(() => handler ? handler(req, info) : notRunning()),
    );
  } catch (e) {
    const line = tls && e instanceof Error ? tlsProblem(tls, e) : null;
    throw new StartupError(line ?? bindProblem(label, address, e));
  }
  const a = server.addr;
  const host = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname;
  const url = `${tls ? "https" : "http"}://${host}:${a.port}`;
  const addr = { hostname: a.hostname, port: a.port };
  return {
    url,
    addr,
    attach(core, app) {
      const inFlight = new InFlight();
      handler = (req, info) => {
        const ra = info.remoteAddr as Deno.NetAddr;
        return inFlight.run(() => app.fetch(req, { remoteAddr: ra.hostname }));
      };
      opened();
      log.info("listening", { address: url });
      let closing: Promise<void> | null = null;
      const drain = (graceMs = SHUTDOWN_GRACE_MS) => inFlight.drain(graceMs);
      return {
        core,
        addr,
        url,
        drain,
        hurry: () => inFlight.hurry(),
        shutdown(graceMs?: number) {
          closing ??= (async () => {
            await drain(graceMs);
            // Nothing is in flight now (or it was answered 503): the listener and the idle
            // connections close, then the storage, after the writes queued so far. A client
            // that stopped halfway through a body it announced (answered 408 already) holds its
            // connection open, and the runtime's shutdown waits for it: not past a bound, or
            // one such client would keep the process up until systemd kills it mid-write.
            let timer: ReturnType<typeof setTimeout> | undefined;
            const stuck = await Promise.race([
              server.shutdown().then(() => false),
              new Promise<boolean>((r) => timer = setTimeout(() => r(true), CONNECTIONS_CLOSE_MS)),
            ]);
            clearTimeout(timer);
            if (stuck) {
              log.warn("shutting down: connections still open; closing without them", {
                waited_seconds: CONNECTIONS_CLOSE_MS / 1000,
              });
            }
            await core.close();
          })();
          return closing;
        },
      };
    },
    async close() {
      opened();
      await server.shutdown();
    },
  };
}

export async function serve(
  core: Core,
  app: Hono<AppEnv>,
  listener: ServerConfig["listener"],
  onListen?: (url: string) => void,
): Promise<RunningServer> {
  const tls = listener.tls_cert_file && listener.tls_key_file
    ? await readListenerTls(listener.tls_cert_file, listener.tls_key_file)
    : undefined;
  const srv = bindListener(listener.address, tls).attach(core, app);
  onListen?.(srv.url);
  return srv;
}
