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
import { call, run, threadCpuNs, withCore, workerCpuMs } from "./cpu_harness.ts";

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

let result: Record<string, number> = {};
const checked = await withCore("secrethub-login-cpu-", async (app, root) => {
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

  await run(warmup, CONCURRENCY, login);
  const cpu0 = threadCpuNs();
  const proc0 = process.cpuUsage();
  const worker0 = workerCpuMs();
  const t0 = performance.now();
  await run(LOGINS, CONCURRENCY, login);
  const wall = performance.now() - t0;
  const p = process.cpuUsage(proc0);
  result = {
    request_thread_us_per_login: Number(((threadCpuNs() - cpu0) / 1000 / LOGINS).toFixed(1)),
    writer_thread_us_per_login: Math.round((workerCpuMs() - worker0) * 1000 / LOGINS),
    process_cpu_us_per_login: Number(((p.user + p.system) / LOGINS).toFixed(1)),
    wall_logins_per_s: Math.round(LOGINS / (wall / 1000)),
  };
});
// deno-lint-ignore no-console
console.log(JSON.stringify({
  scenario: SINGLE_USE ? "approle_login_single_use" : "approle_login",
  logins: LOGINS,
  concurrency: CONCURRENCY,
  ...result,
  audit_rows_checked: checked,
}));
