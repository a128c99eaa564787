/** Builds a core from config and serves it: the only place that listens. */
import { Core, type CoreOptions } from "./core.ts";
import { buildApp } from "./http/app.ts";
import { sealRoutes } from "./sys/seal_routes.ts";
import { adminRoutes } from "./sys/admin_routes.ts";
import { auditRoutes } from "./sys/audit_routes.ts";
import { tokenRoutes } from "./token/routes.ts";
import { authRoutes } from "./sys/auth_routes.ts";
import { wrappingRoutes } from "./sys/wrapping_routes.ts";
import { policyToolRoutes } from "./sys/policy_tools_routes.ts";
import { AUTH_METHODS } from "./auth/registry.ts";
import { SlidingLoginLimiter } from "./auth/limiter.ts";
import { LibsqlStorage } from "./storage/libsql_storage.ts";
import { createIdentityServices, registerIdentityRoutes } from "./identity/mod.ts";
import { agentRoutes } from "./agents/routes.ts";
import { leaseRoutes } from "./lease/routes.ts";
import { log } from "./log.ts";
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
): Promise<{ core: Core; app: Hono<AppEnv> }> {
  const core = await Core.open({
    authMethods: AUTH_METHODS,
    limiter: new SlidingLoginLimiter(),
    ...o,
    physical: await LibsqlStorage.open(dbFile),
  });
  core.identity = createIdentityServices(core);
  const identitySys = registerIdentityRoutes(core, core.identity);
  core.mounts.addBuiltin("sys/", "system", [
    ...authRoutes(core),
    ...wrappingRoutes(core),
    ...policyToolRoutes(core),
    ...sealRoutes(core),
    ...adminRoutes(core),
    ...auditRoutes(core),
    ...leaseRoutes(core),
    ...identitySys,
    ...agentRoutes(core),
  ], "system endpoints used for control, policy and debugging");
  core.mounts.addBuiltin("auth/token/", "token", tokenRoutes(core), "token based credentials");
  return { core, app: buildApp(core) };
}

export function parseAddress(a: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(a);
  if (!m) throw new Error(`invalid listen address "${a}" (want HOST:PORT)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in "${a}"`);
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}

export interface RunningServer {
  core: Core;
  addr: { hostname: string; port: number };
  url: string;
  shutdown(): Promise<void>;
}

export async function serve(
  core: Core,
  app: Hono<AppEnv>,
  listener: ServerConfig["listener"],
  onListen?: (url: string) => void,
): Promise<RunningServer> {
  const { hostname, port } = parseAddress(listener.address);
  const tls = listener.tls_cert_file && listener.tls_key_file
    ? {
      cert: await Deno.readTextFile(listener.tls_cert_file),
      key: await Deno.readTextFile(listener.tls_key_file),
    }
    : undefined;
  let resolveAddr: (a: Deno.NetAddr) => void;
  const addrP = new Promise<Deno.NetAddr>((r) => resolveAddr = r);
  const server = Deno.serve({
    hostname,
    port,
    ...(tls ?? {}),
    onListen: (a) => resolveAddr(a as Deno.NetAddr),
  }, (req, info) => {
    const ra = info.remoteAddr as Deno.NetAddr;
    return app.fetch(req, { remoteAddr: ra.hostname });
  });
  const a = await addrP;
  const host = a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname;
  const url = `${tls ? "https" : "http"}://${host}:${a.port}`;
  onListen?.(url);
  log.info("listening", { address: url });
  return {
    core,
    addr: { hostname: a.hostname, port: a.port },
    url,
    shutdown: async () => {
      await server.shutdown();
      await core.close();
    },
  };
}
