/**
 * Request-thread CPU per authenticated, audited KV v2 read, in process (the `kv_read` scenario of
 * bench/run.ts without the socket): a real core (temp libSQL file, writer worker, full sync), a
 * non-root token with a normal policy, `CONCURRENCY` reads in flight as under wrk. Thread CPU
 * (CLOCK_THREAD_CPUTIME_ID) barely moves with other load on this 2-core machine, unlike wall
 * time; the writer thread's share (audit rows) is reported apart. HTTP parsing and the socket are
 * left out; building each Request and reading its Response are included.
 *
 *   deno run -A bench/kv_read_cpu.ts [--reads N] [--concurrency C] [--rounds R]
 *
 * Several rounds run and the lowest request-thread figure is reported with the median, since a
 * round can still be slowed by a GC or by another process stealing the core.
 */
import { parseArgs } from "node:util";
import { createCore } from "../core/server.ts";
import { decodeShare } from "../core/seal/seal.ts";
import { setLogLevel } from "../core/log.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    reads: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "50" },
    rounds: { type: "string", default: "5" },
  },
});
const READS = Number(args.reads);
const CONCURRENCY = Number(args.concurrency);
const ROUNDS = Number(args.rounds);

const libc = Deno.dlopen("libc.so.6", {
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
});
const CLOCK_THREAD_CPUTIME_ID = 3;
const ts = new BigInt64Array(2);

/** CPU nanoseconds used so far by the calling (request) thread alone. */
function threadCpuNs(): number {
  libc.symbols.clock_gettime(CLOCK_THREAD_CPUTIME_ID, ts);
  return Number(ts[0]!) * 1e9 + Number(ts[1]!);
}

/** CPU milliseconds of this process's worker threads (the storage writer), from /proc. */
function workerCpuMs(): number {
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
type Json = any;
type App = Awaited<ReturnType<typeof createCore>>["app"];

/** One request through the app, as the server would hand it over (minus the socket). */
async function call(
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

/** Runs `n` calls of `one`, at most CONCURRENCY at a time. */
async function run(n: number, one: () => Promise<unknown>): Promise<void> {
  let left = n;
  const worker = async () => {
    while (left-- > 0) await one();
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker));
}

setLogLevel("warn");
const dir = await Deno.makeTempDir({ prefix: "secrethub-kv-read-cpu-" });
const { core, app } = await createCore(`${dir}/secrethub.db`, { tidyIntervalMs: 0 });
try {
  const init = await core.init(1, 1);
  await core.unseal(decodeShare(init.keys_base64[0]!));
  const root = init.root_token;
  await call(app, "PUT", "sys/policies/acl/bench", {
    policy: `path "secret/data/bench/*" { capabilities = ["read"] }`,
  }, root);
  const tok = (await call(app, "POST", "auth/token/create", { policies: ["bench"] }, root))
    .auth.client_token as string;
  await call(app, "POST", "secret/data/bench/db", {
    data: { username: "app", password: "s3cr3t-bench" },
  }, root);
  const latencies: number[] = [];
  const read = async () => {
    const t = performance.now();
    const r = await call(app, "GET", "secret/data/bench/db", undefined, tok);
    latencies.push(performance.now() - t);
    if (r.data.data.password !== "s3cr3t-bench") throw new Error("wrong value read");
  };

  await run(Math.min(2000, READS), read);
  latencies.length = 0;
  const rounds: { thread: number; writer: number; wall: number }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const cpu0 = threadCpuNs();
    const worker0 = workerCpuMs();
    const t0 = performance.now();
    await run(READS, read);
    const wall = performance.now() - t0;
    rounds.push({
      thread: (threadCpuNs() - cpu0) / 1000 / READS,
      writer: (workerCpuMs() - worker0) * 1000 / READS,
      wall: READS / (wall / 1000),
    });
  }
  const verify = await call(app, "GET", "sys/audit/verify", undefined, root);
  if (!verify.data.ok) throw new Error("audit chain broken after the run");
  const threads = rounds.map((r) => r.thread).sort((a, b) => a - b);
  latencies.sort((a, b) => a - b);
  const pct = (q: number) => Number(latencies[Math.floor(latencies.length * q)]!.toFixed(2));
  // deno-lint-ignore no-console
  console.log(JSON.stringify({
    scenario: "kv_read",
    reads_per_round: READS,
    rounds: ROUNDS,
    concurrency: CONCURRENCY,
    request_thread_us_per_read_min: Number(threads[0]!.toFixed(1)),
    request_thread_us_per_read_median: Number(threads[Math.floor(ROUNDS / 2)]!.toFixed(1)),
    writer_thread_us_per_read: Math.round(
      rounds.reduce((s, r) => s + r.writer, 0) / ROUNDS,
    ),
    // In process, so without wrk's share of the CPU: the stalls that are ours alone.
    latency_p50_ms: pct(0.5),
    latency_p99_ms: pct(0.99),
    latency_max_ms: pct(0.99999),
    wall_reads_per_s_best: Math.round(Math.max(...rounds.map((r) => r.wall))),
    audit_rows_checked: verify.data.checked,
  }));
} finally {
  await core.close();
  libc.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
