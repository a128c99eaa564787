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
import { call, run, threadCpuNs, withCore, workerCpuMs } from "./cpu_harness.ts";

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

const rounds: { thread: number; writer: number; wall: number }[] = [];
const latencies: number[] = [];
const checked = await withCore("secrethub-kv-read-cpu-", async (app, root) => {
  await call(app, "PUT", "sys/policies/acl/bench", {
    policy: `path "secret/data/bench/*" { capabilities = ["read"] }`,
  }, root);
  const tok = (await call(app, "POST", "auth/token/create", { policies: ["bench"] }, root))
    .auth.client_token as string;
  await call(app, "POST", "secret/data/bench/db", {
    data: { username: "app", password: "s3cr3t-bench" },
  }, root);
  const read = async () => {
    const t = performance.now();
    const r = await call(app, "GET", "secret/data/bench/db", undefined, tok);
    latencies.push(performance.now() - t);
    if (r.data.data.password !== "s3cr3t-bench") throw new Error("wrong value read");
  };

  await run(Math.min(2000, READS), CONCURRENCY, read);
  latencies.length = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const cpu0 = threadCpuNs();
    const worker0 = workerCpuMs();
    const t0 = performance.now();
    await run(READS, CONCURRENCY, read);
    const wall = performance.now() - t0;
    rounds.push({
      thread: (threadCpuNs() - cpu0) / 1000 / READS,
      writer: (workerCpuMs() - worker0) * 1000 / READS,
      wall: READS / (wall / 1000),
    });
  }
});
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
  writer_thread_us_per_read: Math.round(rounds.reduce((s, r) => s + r.writer, 0) / ROUNDS),
  // In process, so without wrk's share of the CPU: the stalls that are ours alone.
  latency_p50_ms: pct(0.5),
  latency_p99_ms: pct(0.99),
  latency_max_ms: pct(0.99999),
  wall_reads_per_s_best: Math.round(Math.max(...rounds.map((r) => r.wall))),
  audit_rows_checked: checked,
}));
