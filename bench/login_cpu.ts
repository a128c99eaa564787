/**
 * Request-thread CPU per AppRole login, in process: a real core (temp libSQL file, writer worker,
 * full sync) driven through the same Hono app the server uses, `CONCURRENCY` logins in flight as
 * under wrk. Wall-clock throughput is noisy while other work shares this 2-core machine; the CPU
 * time of the request thread (CLOCK_THREAD_CPUTIME_ID) and of the storage writer thread barely
 * move with load, and a login's wall time is close to their sum (requests wait on commits, the
 * writer waits on requests). The socket and HTTP parsing are left out; building each Request and
 * reading its Response here is included (a few µs).
 *
 *   deno run -A bench/login_cpu.ts [--logins N] [--single-use] [--concurrency C]
 *
 * `--single-use` gives every login its own secret-id with num_uses=1, so each login also deletes
 * its secret-id (the consume path); the default is the `approle_login` scenario of bench/run.ts
 * (one unlimited secret-id).
 */
import { parseArgs } from "node:util";
import { createCore } from "../core/server.ts";
import { decodeShare } from "../core/seal/seal.ts";
import { setLogLevel } from "../core/log.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    logins: { type: "string", default: "4000" },
    concurrency: { type: "string", default: "50" },
    "single-use": { type: "boolean", default: false },
  },
});
const LOGINS = Number(args.logins);
const CONCURRENCY = Number(args.concurrency);
const SINGLE_USE = args["single-use"];

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
const dir = await Deno.makeTempDir({ prefix: "secrethub-login-cpu-" });
const { core, app } = await createCore(`${dir}/secrethub.db`, { tidyIntervalMs: 0 });
try {
  const init = await core.init(1, 1);
  await core.unseal(decodeShare(init.keys_base64[0]!));
  const root = init.root_token;

  await call(app, "POST", "sys/auth/approle", { type: "approle" }, root);
  await call(app, "POST", "auth/approle/role/bench", {
    token_policies: ["default"],
    secret_id_num_uses: SINGLE_USE ? 1 : 0,
    secret_id_ttl: 0,
    token_ttl: "1h",
  }, root);
  const roleId = (await call(app, "GET", "auth/approle/role/bench/role-id", undefined, root))
    .data.role_id as string;
  const warmup = Math.min(1000, LOGINS);
  const secretIds: string[] = [];
  for (let i = 0; i < (SINGLE_USE ? warmup + LOGINS : 1); i++) {
    secretIds.push(
      (await call(app, "POST", "auth/approle/role/bench/secret-id", {}, root)).data.secret_id,
    );
  }
  let next = 0;
  const login = () =>
    call(app, "POST", "auth/approle/login", {
      role_id: roleId,
      secret_id: secretIds[SINGLE_USE ? next++ : 0],
    });

  await run(warmup, login);
  const cpu0 = threadCpuNs();
  const proc0 = process.cpuUsage();
  const worker0 = workerCpuMs();
  const t0 = performance.now();
  await run(LOGINS, login);
  const wall = performance.now() - t0;
  const thread = (threadCpuNs() - cpu0) / 1000 / LOGINS;
  const p = process.cpuUsage(proc0);
  const writer = (workerCpuMs() - worker0) * 1000 / LOGINS;
  const verify = await call(app, "GET", "sys/audit/verify", undefined, root);
  if (!verify.data.ok) throw new Error("audit chain broken after the run");
  // deno-lint-ignore no-console
  console.log(JSON.stringify({
    scenario: SINGLE_USE ? "approle_login_single_use" : "approle_login",
    logins: LOGINS,
    concurrency: CONCURRENCY,
    request_thread_us_per_login: Number(thread.toFixed(1)),
    writer_thread_us_per_login: Math.round(writer),
    process_cpu_us_per_login: Number(((p.user + p.system) / LOGINS).toFixed(1)),
    wall_logins_per_s: Math.round(LOGINS / (wall / 1000)),
    audit_rows_checked: verify.data.checked,
  }));
} finally {
  await core.close();
  libc.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
