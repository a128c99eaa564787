import assert from "node:assert/strict";
import { METRIC_HELP, Metrics } from "../../core/metrics.ts";
import { checkExposition } from "../helpers/prometheus.ts";

Deno.test("Prometheus text: every metric has # HELP and # TYPE, a _total is a counter", () => {
  const m = new Metrics();
  m.unsealed = 1;
  m.observe("GET", "kv:data/:path+", 200, 0.002);
  const text = m.prometheus({
    secrethub_audit_log_failures_total: 3,
    secrethub_token_count: 2,
    secrethub_lease_count: 0,
  });
  const families = checkExposition(text);
  for (const name of Object.keys(METRIC_HELP)) {
    assert.ok(families.has(name), `${name} missing`);
    assert.equal(families.get(name)!.type, METRIC_HELP[name]!.type);
    assert.ok(families.get(name)!.help.length > 10);
  }
  assert.equal(families.get("secrethub_audit_log_failures_total")!.type, "counter");
  assert.equal(families.get("secrethub_http_requests_total")!.type, "counter");
  assert.equal(families.get("secrethub_token_count")!.type, "gauge");
  assert.equal(families.get("secrethub_http_request_duration_seconds")!.type, "histogram");
  for (const [name, { type }] of families) {
    if (name.endsWith("_total")) assert.equal(type, "counter", name);
  }
  assert.match(text, /^secrethub_audit_log_failures_total 3$/m);
  // An extra metric nobody described still gets both lines (a _total as a counter).
  const more = checkExposition(m.prometheus({ secrethub_new_things_total: 1, secrethub_x: 2 }));
  assert.equal(more.get("secrethub_new_things_total")!.type, "counter");
  assert.equal(more.get("secrethub_x")!.type, "gauge");
});

Deno.test("JSON metrics: counters are under Counters, gauges under Gauges", () => {
  const j = new Metrics().json({
    secrethub_audit_log_failures_total: 4,
    secrethub_token_count: 2,
  }) as { Gauges: { Name: string }[]; Counters: { Name: string; Count: number }[] };
  assert.ok(j.Gauges.some((g) => g.Name === "secrethub_token_count"));
  assert.ok(!j.Gauges.some((g) => g.Name === "secrethub_audit_log_failures_total"));
  assert.deepEqual(
    j.Counters.find((c) => c.Name === "secrethub_audit_log_failures_total")?.Count,
    4,
  );
});
