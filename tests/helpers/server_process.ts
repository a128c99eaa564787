import type { Json } from "./test_core.ts";
/** Runs `main.ts server -config` as a real child process on a free 127.0.0.1 port. */

/**
 * A free port below the kernel's ephemeral range (32768+). A port the OS hands out for `port: 0`
 * is also what it hands to outgoing connections, so a server restarted on it (tests kill and
 * restart cores) could find it taken by some other test's client socket.
 */
export function freePort(): number {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      const l = Deno.listen({ hostname: "127.0.0.1", port });
      l.close();
      return port;
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
}

export const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** `deno run -A main.ts server ARGS` as a child process; stdout dropped, stderr as asked. */
export function spawnServer(args: string[], stderr: "piped" | "null" = "null"): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "server", ...args],
    stdout: "null",
    stderr,
  }).spawn();
}

export interface ServerProcess {
  url: string;
  dir: string;
  child: Deno.ChildProcess;
  /** With `logFile`: settles once everything the server wrote to stderr is in the file. */
  logged: Promise<void>;
  kill(signal?: Deno.Signal): Promise<void>;
}

export async function startServerProcess(
  dir: string,
  port = freePort(),
  o: {
    agentPort?: number;
    logFile?: string;
    storagePath?: string;
    /** Serve HTTPS with these files; readiness is then a TCP connect (the cert may be refused). */
    tls?: { certFile: string; keyFile: string };
    /** More top-level config keys (request_timeout, max_request_size, …). */
    config?: Record<string, unknown>;
  } = {},
): Promise<ServerProcess> {
  const cfg = `${dir}/config.json`;
  await Deno.writeTextFile(
    cfg,
    JSON.stringify({
      listener: {
        address: `127.0.0.1:${port}`,
        ...(o.tls ? { tls_cert_file: o.tls.certFile, tls_key_file: o.tls.keyFile } : {}),
      },
      storage: { path: o.storagePath ?? `${dir}/data` },
      // Without a port of its own the agent listener stays off, so parallel tests don't collide.
      agent_listener: o.agentPort ? { address: `127.0.0.1:${o.agentPort}` } : { disable: true },
      log_level: o.logFile ? "info" : "warn",
      ...o.config,
    }),
  );
  const log = o.logFile ? await Deno.open(o.logFile, { append: true, create: true }) : null;
  const child = spawnServer(["-config", cfg], log ? "piped" : "null");
  const logged = log ? child.stderr.pipeTo(log.writable).catch(() => {}) : Promise.resolve();
  const url = `${o.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  let exited = null as Deno.CommandStatus | null;
  void child.status.then((st) => exited = st);
  for (;;) {
    try {
      if (o.tls) {
        // Bound (the listener is bound before storage opens; requests wait for the attach).
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        break;
      }
      const r = await fetch(`${url}/v1/sys/health`);
      await r.body?.cancel();
      break;
    } catch {
      if (exited) throw new Error(`server on port ${port} exited with code ${exited.code}`);
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        await child.status;
        throw new Error("server did not start");
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  let done = false;
  return {
    url,
    dir,
    child,
    logged,
    async kill(signal: Deno.Signal = "SIGTERM") {
      if (done) return;
      done = true;
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      await child.status;
    },
  };
}

/** Initialises a fresh server with one share and unseals it: its root token and unseal key. */
export async function initAndUnseal(url: string): Promise<{ token: string; key: string }> {
  const init = await call(url, "PUT", "/v1/sys/init", { secret_shares: 1, secret_threshold: 1 });
  if (init.status !== 200) throw new Error(`init: ${init.status} ${JSON.stringify(init.body)}`);
  const key = init.body.keys_base64[0];
  const u = await call(url, "PUT", "/v1/sys/unseal", { key });
  if (u.status !== 200 || u.body.sealed !== false) {
    throw new Error(`unseal: ${u.status} ${JSON.stringify(u.body)}`);
  }
  return { token: init.body.root_token, key };
}

export async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers["x-vault-token"] = token;
  const r = await fetch(url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}
