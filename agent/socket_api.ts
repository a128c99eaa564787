/**
 * The local API: HTTP over a Unix socket for the device's own applications. It mirrors core's
 * read paths (`GET /v1/<path>`), so a Vault client pointed at the socket works unchanged. Each
 * app presents its own token (`X-Vault-Token`) and may read only the paths its config lists;
 * the socket itself is the first gate (mode and group), the token the second.
 */
import { constantTimeEqual, randomBase62 } from "../lib/web_crypto.ts";
import { fsProblem } from "../lib/fs_problem.ts";
import { basename, dirname, join } from "../lib/paths.ts";
import { closeSync, constants, fstatSync, openSync } from "node:fs";

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

/** `sun_path` holds 108 bytes with the terminating NUL: clients cannot connect to a longer path. */
export const MAX_SOCKET_PATH_BYTES = 107;

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
  const bytes = new TextEncoder().encode(socketPath).length;
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new SocketListenError(
      socketPath,
      `the path is ${bytes} bytes long; a Unix socket path may be at most ${MAX_SOCKET_PATH_BYTES}`,
    );
  }
  await removeStaleSocket(socketPath);
  let gid: number | undefined;
  try {
    gid = group ? await gidOf(group) : undefined;
  } catch (e) {
    throw new SocketListenError(socketPath, fsProblem(e));
  }
  // Bound in a private directory and linked into place once mode and group are set, so there is
  // no moment where the socket exists with the umask's (possibly wider) permissions, and nobody
  // who may write the socket's directory can swap the name for a symlink the chmod/chown would
  // follow. link(), not rename(): it fails if another agent bound the path meanwhile instead of
  // replacing its socket.
  let priv: PrivateDir;
  try {
    priv = await PrivateDir.create(socketPath);
  } catch (e) {
    throw new SocketListenError(socketPath, `cannot listen: ${fsProblem(e)}`);
  }
  const tmp = priv.entry("s");
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({ path: tmp, onListen: () => {} }, handler);
  } catch (e) {
    await priv.close();
    throw new SocketListenError(socketPath, `cannot listen: ${fsProblem(e)}`);
  }
  let mine: Deno.FileInfo;
  try {
    await Deno.chmod(tmp, mode);
    if (gid !== undefined) await Deno.chown(tmp, null, gid);
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
    await priv.removeDir();
  } catch (e) {
    await server.shutdown();
    await Deno.remove(tmp).catch(() => {});
    await priv.close();
    if (e instanceof SocketListenError) throw e;
    throw new SocketListenError(socketPath, fsProblem(e));
  }
  return {
    close: async () => {
      // Deno unlinks the path it bound when the server closes: through /proc/self/fd that path
      // names our (by now empty and removed) directory only while its descriptor stays open.
      await server.shutdown();
      await priv.close();
      // Only our own socket: if another agent has since bound this path, the file is its.
      try {
        const now = await Deno.lstat(socketPath);
        if (now.ino === mine.ino && now.dev === mine.dev) await Deno.remove(socketPath);
      } catch { /* already gone */ }
    },
  };
}

/**
 * A 0700 directory of our own next to the socket, reached through an open descriptor
 * (`/proc/self/fd/N/…`) rather than its name, so renaming or replacing it changes nothing for us.
 * The bind path is short whatever the socket's directory: a socket path of up to 107 bytes works.
 */
class PrivateDir {
  readonly #name: string;
  readonly #via: string;
  #fd: number | undefined;

  private constructor(name: string, via: string, fd: number | undefined) {
    this.#name = name;
    this.#via = via;
    this.#fd = fd;
  }

  static async create(socketPath: string): Promise<PrivateDir> {
    const name = join(
      dirname(socketPath),
      `.${basename(socketPath)}.secrethub-${randomBase62(12)}`,
    );
    await Deno.mkdir(name, { mode: 0o700 });
    // Elsewhere there is no /proc: the directory goes by its name (development machines).
    if (Deno.build.os !== "linux") return new PrivateDir(name, name, undefined);
    let fd: number;
    try {
      fd = openSync(name, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (e) {
      await Deno.remove(name).catch(() => {});
      throw e;
    }
    const st = fstatSync(fd);
    // Replaced between mkdir and open by someone else's directory: not ours to bind in.
    if (st.uid !== Deno.uid() || (st.mode & 0o077) !== 0) {
      closeSync(fd);
      throw new Deno.errors.PermissionDenied(`${name} was replaced by another user's directory`);
    }
    return new PrivateDir(name, `/proc/self/fd/${fd}`, fd);
  }

  entry(file: string): string {
    return `${this.#via}/${file}`;
  }

  /** Removes the (empty) directory; its descriptor stays open until close(). */
  async removeDir(): Promise<void> {
    const st = await Deno.lstat(this.#name).catch(() => null);
    const own = this.#fd === undefined ? st : await Deno.stat(this.#via).catch(() => null);
    if (st && own && st.isDirectory && st.ino === own.ino && st.dev === own.dev) {
      await Deno.remove(this.#name).catch(() => {});
    }
  }

  async close(): Promise<void> {
    await this.removeDir();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
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
