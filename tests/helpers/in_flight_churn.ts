/**
 * Run with --v8-flags=--expose-gc (tests/unit/in_flight_retention_test.ts): puts 20,000 requests
 * through InFlight, 50 at a time, with minor GCs in between, and prints how much the heap grew
 * that minor GCs could not take back. Settled replies must die young: a structure that keeps them
 * reachable from the old generation gets each one promoted, and under load every scavenge then
 * copies them (2–3 ms pauses at 32k reads/s).
 */
import { InFlight } from "../../core/http/in_flight.ts";

const gc = (globalThis as unknown as { gc: (o?: { type: string }) => void }).gc;
const inFlight = new InFlight();
const body = "x".repeat(1000);

async function churn(rounds: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const batch: [(r: Response) => void, Response | Promise<Response>][] = [];
    for (let i = 0; i < 50; i++) {
      let settle!: (r: Response) => void;
      const handler = new Promise<Response>((r) => settle = r);
      batch.push([settle, inFlight.run(() => handler)]);
    }
    for (const [settle, reply] of batch) {
      settle(new Response(body + round));
      await reply;
    }
    if (round % 5 === 0) gc({ type: "minor" });
  }
}

await churn(50);
// InFlight itself goes to the old generation, as it does in a server that has run a while.
gc();
gc();
gc({ type: "minor" });
const before = Deno.memoryUsage().heapUsed;
await churn(400);
gc({ type: "minor" });
gc({ type: "minor" });
const grew = Deno.memoryUsage().heapUsed - before;
// deno-lint-ignore no-console
console.log(JSON.stringify({ grew_bytes: grew }));
