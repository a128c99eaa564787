/**
 * Reproduces why the request path hashes in JavaScript (lib/sha256.ts), not with node:crypto:
 * a plain Deno.serve app that does four SHA-256 hashes of a ~400-byte body per request, under
 * wrk on 127.0.0.1, once with node:crypto's `hash()` and once with lib/sha256.ts. It prints
 * p99 latency and the worst event-loop lag seen by a 5 ms interval timer.
 *
 *   deno run -A bench/hash_stall.ts [seconds]
 *
 * Measured on this 2-core machine (Deno 2.9.6): node:crypto 61k rps, p99 22–38 ms, lag spikes
 * 20–40 ms; lib/sha256.ts 61k rps, p99 1.6 ms, lag 3 ms; no hashing at all p99 1.8 ms.
 */
import { hash } from "node:crypto";
import { sha256Hex } from "../lib/sha256.ts";
import { freePort } from "../tests/helpers/server_process.ts";

const SECONDS = Number(Deno.args[0] ?? "6");
const encoder = new TextEncoder();

async function run(kind: "node" | "js"): Promise<void> {
  let last = performance.now();
  let maxLag = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxLag = Math.max(maxLag, now - last - 5);
    last = now;
  }, 5);
  const port = freePort();
  const server = Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const body = JSON.stringify({
      data: { username: "app", password: "s3cr3t" },
      request_id: crypto.randomUUID(),
      headers: [...req.headers],
      time: new Date().toISOString(),
    });
    const bytes = encoder.encode(body);
    let h = "";
    for (let i = 0; i < 4; i++) {
      h = kind === "node" ? hash("sha256", bytes, "hex") : sha256Hex(bytes);
    }
    return new Response(body + h, { headers: { "content-type": "application/json" } });
  });
  const out = await new Deno.Command("wrk", {
    args: ["-t1", "-c50", `-d${SECONDS}s`, "--latency", `http://127.0.0.1:${port}/`],
    stdout: "piped",
  }).output();
  clearInterval(timer);
  await server.shutdown();
  const text = new TextDecoder().decode(out.stdout);
  const p99 = text.match(/99%\s+(\S+)/)?.[1];
  const rps = text.match(/Requests\/sec:\s+(\S+)/)?.[1];
  // deno-lint-ignore no-console
  console.log(
    JSON.stringify({ hashing: kind, rps: Number(rps), p99, max_loop_lag_ms: +maxLag.toFixed(1) }),
  );
}

await run("node");
await run("js");
