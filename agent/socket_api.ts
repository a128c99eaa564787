/**
 * The local API: HTTP over a Unix socket for the device's own applications. It mirrors core's
 * read paths (`GET /v1/<path>`), so a Vault client pointed at the socket works unchanged. Each
 * app presents its own token (`X-Vault-Token`) and may read only the paths its config lists;
 * the socket itself is the first gate (mode and group), the token the second.
 */
import { constantTimeEqual } from "../lib/web_crypto.ts";

export interface LocalApp {
  name: string;
  token: string;
  /** Exact paths, or prefixes ending in "*". */
  paths: string[];
}

export interface ReadResult {
  status: number;
  body: Record<string, unknown>;
}

export interface SocketBackend {
  read(path: string, version: number | undefined): Promise<ReadResult>;
  status(): Record<string, unknown>;
  /** Serving (online, or offline within max_stale). */
  healthy(): boolean;
}

const MAX_PATH = 1024;

function errors(status: number, ...errs: string[]): Response {
  return new Response(JSON.stringify({ errors: errs }), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

export function pathAllowed(patterns: string[], path: string): boolean {
  return patterns.some((p) => p.endsWith("*") ? path.startsWith(p.slice(0, -1)) : p === path);
}

/** Finds the app whose token matches; every candidate is compared, so timing shows nothing. */
export function appForToken(apps: LocalApp[], token: string): LocalApp | null {
  let found: LocalApp | null = null;
  for (const a of apps) if (constantTimeEqual(a.token, token) && !found) found = a;
  return found;
}

export type SocketHandler = (req: Request) => Promise<Response>;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/**
 * A plain handler rather than a router: four routes do not need one, and on a small device the
 * agent's memory matters more than the convenience.
 */
export function buildSocketApp(apps: () => LocalApp[], backend: SocketBackend): SocketHandler {
  return async (req) => {
    const url = new URL(req.url);
    if (!url.pathname.startsWith("/v1/")) return errors(404);
    if (req.method !== "GET" && req.method !== "HEAD") {
      return errors(405, "the agent socket serves reads only");
    }
    if (url.pathname === "/v1/agent/health") {
      const ok = backend.healthy();
      return json(ok ? 200 : 503, { healthy: ok });
    }
    if (url.pathname === "/v1/agent/status") return json(200, backend.status());
    const token = (req.headers.get("x-vault-token") ?? "").trim();
    const who = token ? appForToken(apps(), token) : null;
    if (!who) return errors(403, "permission denied");
    let path: string;
    try {
      path = decodeURIComponent(url.pathname.slice(4));
    } catch {
      return errors(400, "invalid path encoding");
    }
    if (
      !path || path.length > MAX_PATH || path.includes("\0") ||
      path.split("/").some((s) => s === ".." || s === ".")
    ) return errors(400, "invalid path");
    if (!pathAllowed(who.paths, path)) return errors(403, "permission denied");
    const vq = url.searchParams.get("version");
    let version: number | undefined;
    if (vq !== null) {
      if (!/^\d{1,9}$/.test(vq)) return errors(400, "version: must be a non-negative integer");
      version = Number(vq);
    }
    const r = await backend.read(path, version);
    return json(r.status, r.body);
  };
}

/** Serves the app on a Unix socket with the given mode (and group, when set). */
export async function serveSocket(
  socketPath: string,
  mode: number,
  group: string | undefined,
  handler: SocketHandler,
): Promise<{ close(): Promise<void> }> {
  try {
    await Deno.remove(socketPath);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  // Bound under a temporary name and renamed once mode and group are set, so there is no
  // moment where the socket exists with the umask's (possibly wider) permissions.
  const tmp = `${socketPath}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const server = Deno.serve({ path: tmp, onListen: () => {} }, handler);
  try {
    await Deno.chmod(tmp, mode);
    if (group) await Deno.chown(tmp, null, await gidOf(group));
    await Deno.rename(tmp, socketPath);
  } catch (e) {
    await server.shutdown();
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return {
    close: async () => {
      await server.shutdown();
      await Deno.remove(socketPath).catch(() => {});
    },
  };
}

async function gidOf(group: string): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  const text = await Deno.readTextFile("/etc/group");
  for (const line of text.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group) return Number(gid);
  }
  throw new Error(`unknown group "${group}" for the agent socket`);
}
