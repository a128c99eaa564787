/**
 * What the in-process CPU benchmarks (kv_read_cpu.ts, login_cpu.ts) share: a real core on a temp
 * libSQL file driven through the same Hono app the server uses, per-thread CPU clocks, and a
 * runner that keeps a fixed number of requests in flight as wrk does.
 */
import { createCore } from "../core/server.ts";
import { decodeShare } from "../core/seal/seal.ts";
import { setLogLevel } from "../core/log.ts";

const libc = Deno.dlopen("libc.so.6", {
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
});
const CLOCK_THREAD_CPUTIME_ID = 3;
const ts = new BigInt64Array(2);

/** CPU nanoseconds used so far by the calling (request) thread alone. */
export function threadCpuNs(): number {
  libc.symbols.clock_gettime(CLOCK_THREAD_CPUTIME_ID, ts);
  return Number(ts[0]!) * 1e9 + Number(ts[1]!);
}

/** CPU milliseconds of this process's worker threads (storage writer, checkpointer), from /proc. */
export function workerCpuMs(): number {
  let ms = 0;
  for (const t of Deno.readDirSync("/proc/self/task")) {
    const stat = Deno.readTextFileSync(`/proc/self/task/${t.name}/stat`);
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    if (!comm.startsWith("worker")) continue;
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ms += (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in 10 ms ticks
  }
  return ms;
}

// deno-lint-ignore no-explicit-any
export type Json = any;
export type App = Awaited<ReturnType<typeof createCore>>["app"];

/** One request through the app, as the server would hand it over (minus the socket). */
export async function call(
  app: App,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<Json> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers["x-vault-token"] = token;
  const res = await app.fetch(
    new Request(`http://127.0.0.1/v1/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
    { remoteAddr: "127.0.0.1" },
  );
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Runs `n` calls of `one`, at most `concurrency` at a time. */
export async function run(
  n: number,
  concurrency: number,
  one: () => Promise<unknown>,
): Promise<void> {
  let left = n;
  const worker = async () => {
    while (left-- > 0) await one();
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
}

/**
 * An initialised, unsealed core on a temp file; `body` gets the app and the root token. The
 * audit chain is verified afterwards and everything is removed.
 */
export async function withCore(
  prefix: string,
  body: (app: App, root: string) => Promise<void>,
): Promise<number> {
  setLogLevel("warn");
  const dir = await Deno.makeTempDir({ prefix });
  const { core, app } = await createCore(`${dir}/secrethub.db`, { tidyIntervalMs: 0 });
  try {
    const init = await core.init(1, 1);
    await core.unseal(decodeShare(init.keys_base64[0]!));
    await body(app, init.root_token);
    const verify = await call(app, "GET", "sys/audit/verify", undefined, init.root_token);
    if (!verify.data.ok) throw new Error("audit chain broken after the run");
    return verify.data.checked as number;
  } finally {
    await core.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
