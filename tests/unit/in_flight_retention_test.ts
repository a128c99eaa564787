import assert from "node:assert/strict";

const CHURN = new URL("../helpers/in_flight_churn.ts", import.meta.url).pathname;

Deno.test("InFlight: settled replies are not kept past a minor GC (20,000 requests)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", CHURN],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const { grew_bytes } = JSON.parse(new TextDecoder().decode(out.stdout));
  // Each reply is over 1 KB: kept replies show as megabytes (3 MB with a Set of resolvers);
  // without them the heap grows by ~170 KB.
  assert.ok(grew_bytes < 1024 * 1024, `heap grew ${grew_bytes} bytes across minor GCs`);
});
