/**
 * Agent benchmarks against real processes (core + agent on 127.0.0.1):
 * - agent_socket_read: cached reads over the Unix socket, keep-alive HTTP/1.1 from N
 *   connections (a raw client: `fetch` would cost more than the agent and measure itself);
 * - agent_push: write on core → rendered file changed (inotify via Deno.watchFs), p50/p99;
 * - agent_idle_rss: the agent's resident memory after it has settled, idle.
 * Run alone with `deno run -A bench/agent.ts`; `deno task bench` includes it.
 */
import {
  setupAgentRole,
  startAgent,
  startCore,
  waitFor,
  writeSecret,
} from "../tests/helpers/agent_env.ts";

export interface AgentBench {
  socket_read: { rps: number; p50_ms: number; p99_ms: number; requests: number; errors: number };
  push: { samples: number; p50_ms: number; p99_ms: number; max_ms: number };
  idle_rss_mb: number;
  idle_rss_mb_after_bootstrap: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One keep-alive connection issuing GETs back to back; returns per-request latencies (ms). */
async function hammer(
  socket: string,
  request: Uint8Array,
  until: number,
  lat: number[],
): Promise<number> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  const buf = new Uint8Array(64 * 1024);
  let errors = 0;
  try {
    while (performance.now() < until) {
      const t0 = performance.now();
      await conn.write(request);
      // Read one response: headers, then exactly Content-Length bytes of body.
      let got = 0;
      let need = -1;
      let headerEnd = -1;
      for (;;) {
        const n = await conn.read(buf.subarray(got));
        if (n === null) throw new Error("connection closed");
        got += n;
        if (headerEnd < 0) {
          const text = dec.decode(buf.subarray(0, got));
          const i = text.indexOf("\r\n\r\n");
          if (i >= 0) {
            headerEnd = i + 4;
            if (!text.startsWith("HTTP/1.1 200")) errors++;
            const m = /content-length:\s*(\d+)/i.exec(text.slice(0, i));
            need = headerEnd + Number(m?.[1] ?? 0);
          }
        }
        if (need >= 0 && got >= need) break;
      }
      lat.push(performance.now() - t0);
    }
  } finally {
    conn.close();
  }
  return errors;
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(3));
}

/**
 * The agent as the compiled binary runs it is JavaScript with no TypeScript loader in the
 * process; `deno compile` needs a runtime download this machine cannot make, so the bench runs
 * a `deno bundle` of the agent's entry instead, which is the closest stand-in.
 */
export async function bundleAgent(dir: string): Promise<string> {
  const root = new URL("..", import.meta.url).pathname;
  const entry = `${root}bench/agent_entry.ts`;
  const out = `${dir}/secrethub-agent.js`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform=deno", "-o", out, entry],
    cwd: root,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`deno bundle failed: ${new TextDecoder().decode(r.stderr)}`);
  return out;
}

export async function agentBench(
  seconds: number,
  connections: number,
  entry?: string,
): Promise<AgentBench> {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-agent-bench-" });
  const core = await startCore(`${dir}/core`);
  const dest = `${dir}/out/app.env`;
  await Deno.mkdir(`${dir}/out`);
  let agent: Awaited<ReturnType<typeof startAgent>> | null = null;
  try {
    const role = await setupAgentRole(core);
    await writeSecret(core, "web/db", { password: "v0" });
    agent = await startAgent(`${dir}/agent`, {
      cores: [core],
      roleId: role.roleId,
      secretId: await role.secretId(),
      entry,
      config: {
        templates: [{
          contents: `PW={{ secret "secret/data/web/db" "password" }}\n`,
          destination: dest,
        }],
        link: { backoff_initial: "1s", backoff_max: "60s", heartbeat: "30s" },
      },
    });
    await waitFor(
      async () => (await Deno.readTextFile(dest).catch(() => "")) === "PW=v0\n",
      15_000,
      "render",
    );

    // Idle memory first, before the load grows the heap: right after bootstrapping, and after
    // a restart (the steady state of a deployed agent: certificate reused, no login, no fetch).
    const idleRss = async () => {
      await new Promise((r) => setTimeout(r, 5000));
      const status = await Deno.readTextFile(`/proc/${agent!.child.pid}/status`);
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    };
    const rssBootstrapped = await idleRss();
    await agent.kill("SIGTERM");
    await agent.restart();
    await waitFor(async () => (await agent!.get("agent/status", "")).body.online, 15_000, "online");
    const rssRestarted = await idleRss();

    // Push latency: write → file content changed, observed by inotify.
    const pushes: number[] = [];
    const watcher = Deno.watchFs(`${dir}/out`);
    const it = watcher[Symbol.asyncIterator]();
    for (let i = 1; i <= 30; i++) {
      const want = `PW=v${i}\n`;
      const t0 = performance.now();
      await writeSecret(core, "web/db", { password: `v${i}` });
      for (;;) {
        if ((await Deno.readTextFile(dest).catch(() => "")) === want) break;
        const next = await Promise.race([
          it.next(),
          new Promise((r) => setTimeout(r, 2000, "timeout")),
        ]);
        if (next === "timeout") throw new Error(`push ${i} not rendered within 2 s`);
      }
      pushes.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
    watcher.close();

    // Socket reads: the value is cached after the first read.
    const request = enc.encode(
      `GET /v1/secret/data/web/db HTTP/1.1\r\nHost: agent\r\nX-Vault-Token: ${agent.appToken}\r\n\r\n`,
    );
    await hammer(agent.socket, request, performance.now() + 1000, []); // warm-up
    const lat: number[] = [];
    const t0 = performance.now();
    const until = t0 + seconds * 1000;
    const errs = await Promise.all(
      Array.from({ length: connections }, () => hammer(agent!.socket, request, until, lat)),
    );
    const elapsed = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    pushes.sort((a, b) => a - b);
    return {
      socket_read: {
        rps: Math.round(lat.length / elapsed),
        p50_ms: pct(lat, 0.5),
        p99_ms: pct(lat, 0.99),
        requests: lat.length,
        errors: errs.reduce((a, b) => a + b, 0),
      },
      push: {
        samples: pushes.length,
        p50_ms: pct(pushes, 0.5),
        p99_ms: pct(pushes, 0.99),
        max_ms: Number(pushes[pushes.length - 1].toFixed(1)),
      },
      idle_rss_mb: Number(rssRestarted.toFixed(1)),
      idle_rss_mb_after_bootstrap: Number(rssBootstrapped.toFixed(1)),
    };
  } finally {
    await agent?.kill("SIGTERM").catch(() => {});
    await core.kill("SIGTERM").catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Both forms: the bundled agent (all figures) and the agent from sources (memory only). */
export async function agentBenches(seconds: number): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-agent-bundle-" });
  try {
    const bundled = await agentBench(seconds, CONNECTIONS, await bundleAgent(dir));
    const sources = await agentBench(1, CONNECTIONS);
    return {
      ...bundled,
      connections: CONNECTIONS,
      from_sources: {
        idle_rss_mb: sources.idle_rss_mb,
        idle_rss_mb_after_bootstrap: sources.idle_rss_mb_after_bootstrap,
      },
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Local apps on one device: a handful of concurrent readers, not fifty. */
const CONNECTIONS = 8;

if (import.meta.main) {
  const seconds = Number(Deno.env.get("BENCH_SECONDS") ?? "10");
  // deno-lint-ignore no-console
  console.log(JSON.stringify(await agentBenches(seconds), null, 2));
}
