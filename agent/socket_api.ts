/**
 * The local API: HTTP over a Unix socket for the device's own applications. It mirrors core's
 * read paths (`GET /v1/<path>`), so a Vault client pointed at the socket works unchanged. Each
 * app presents its own token (`X-Vault-Token`) and may read only the paths its config lists;
 * the socket itself is the first gate (mode and group), the token the second.
 */
import { constantTimeEqual } from "../lib/web_crypto.ts";
import { fsProblem } from "../lib/fs_problem.ts";

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

/** The socket could not be set up; the message names `listener.socket`, the path and why. */
export class SocketListenError extends Error {
  override name = "SocketListenError";
  constructor(socketPath: string, reason: string) {
    super(`listener.socket: ${socketPath}: ${reason}`);
  }
}

/**
 * Serves the app on a Unix socket with the given mode (and group, when set). A socket another
 * process still answers on is refused, never replaced; only a stale one (nobody listening, e.g.
 * left by a kill -9) is removed.
 */
export async function serveSocket(
  socketPath: string,
  mode: number,
  group: string | undefined,
  handler: SocketHandler,
): Promise<{ close(): Promise<void> }> {
  await removeStaleSocket(socketPath);
  // Bound under a temporary name and linked into place once mode and group are set, so there is
  // no moment where the socket exists with the umask's (possibly wider) permissions. link(), not
  // rename(): it fails if another agent bound the path meanwhile instead of replacing its socket.
  const tmp = `${socketPath}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({ path: tmp, onListen: () => {} }, handler);
  } catch (e) {
    throw new SocketListenError(socketPath, `cannot listen: ${fsProblem(e)}`);
  }
  let mine: Deno.FileInfo;
  try {
    await Deno.chmod(tmp, mode);
    if (group) await Deno.chown(tmp, null, await gidOf(group));
    try {
      await Deno.link(tmp, socketPath);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new SocketListenError(socketPath, "another process bound it while the agent started");
      }
      throw e;
    }
    mine = await Deno.lstat(socketPath);
    await Deno.remove(tmp);
  } catch (e) {
    await server.shutdown();
    await Deno.remove(tmp).catch(() => {});
    if (e instanceof SocketListenError) throw e;
    throw new SocketListenError(socketPath, fsProblem(e));
  }
  return {
    close: async () => {
      await server.shutdown();
      // Only our own socket: if another agent has since bound this path, the file is its.
      try {
        const now = await Deno.lstat(socketPath);
        if (now.ino === mine.ino && now.dev === mine.dev) await Deno.remove(socketPath);
      } catch { /* already gone */ }
    },
  };
}

/** Removes a socket nobody listens on; refuses one in use and anything that is not a socket. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(socketPath);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw new SocketListenError(socketPath, fsProblem(e));
  }
  if (!st.isSocket) {
    throw new SocketListenError(socketPath, "exists and is not a socket (not removed)");
  }
  let inUse = false;
  try {
    const c = await Deno.connect({ transport: "unix", path: socketPath });
    c.close();
    inUse = true;
  } catch { /* nobody answers: stale */ }
  if (inUse) {
    throw new SocketListenError(
      socketPath,
      "in use by another process (is another agent running?)",
    );
  }
  try {
    await Deno.remove(socketPath);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw new SocketListenError(socketPath, fsProblem(e));
  }
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
