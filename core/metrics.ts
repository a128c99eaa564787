/** In-process counters, rendered as Prometheus text or Vault's JSON metrics shape. */
export class Metrics {
  unsealed = 0;
  tidyFailures = 0;
  requests = new Map<string, number>();
  static readonly BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5];

  /**
   * Per route: its duration histogram (`label` is `route="…"`) and the counter label of each
   * (method, status) seen, so a request looks its labels up instead of formatting new strings.
   */
  #routes = new Map<
    string,
    {
      label: string;
      d: { sum: number; count: number; buckets: number[] };
      labels: Map<string, string>;
    }
  >();

  observe(method: string, route: string, status: number, seconds: number): void {
    let r = this.#routes.get(route);
    if (!r) {
      const d = { sum: 0, count: 0, buckets: Metrics.BUCKETS.map(() => 0) };
      r = { label: `route="${route}"`, d, labels: new Map() };
      this.#routes.set(route, r);
    }
    const ms = method + status;
    let k = r.labels.get(ms);
    if (k === undefined) {
      k = `method="${method}",route="${route}",status="${status}"`;
      r.labels.set(ms, k);
    }
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
    const d = r.d;
    d.sum += seconds;
    d.count++;
    for (let i = 0; i < Metrics.BUCKETS.length; i++) {
      if (seconds <= Metrics.BUCKETS[i]!) d.buckets[i]!++;
    }
  }

  prometheus(extra: Record<string, number>): string {
    const out: string[] = [];
    out.push(
      "# TYPE secrethub_build_info gauge",
      `secrethub_build_info{version="0.1.0",deno="${Deno.version.deno}"} 1`,
    );
    out.push("# TYPE secrethub_core_unsealed gauge", `secrethub_core_unsealed ${this.unsealed}`);
    for (const [k, v] of Object.entries(extra)) out.push(`# TYPE ${k} gauge`, `${k} ${v}`);
    out.push("# TYPE secrethub_http_requests_total counter");
    for (const [k, v] of this.requests) out.push(`secrethub_http_requests_total{${k}} ${v}`);
    out.push("# TYPE secrethub_http_request_duration_seconds histogram");
    for (const { label: k, d } of this.#routes.values()) {
      Metrics.BUCKETS.forEach((b, i) =>
        out.push(`secrethub_http_request_duration_seconds_bucket{${k},le="${b}"} ${d.buckets[i]}`)
      );
      out.push(`secrethub_http_request_duration_seconds_bucket{${k},le="+Inf"} ${d.count}`);
      out.push(`secrethub_http_request_duration_seconds_sum{${k}} ${d.sum}`);
      out.push(`secrethub_http_request_duration_seconds_count{${k}} ${d.count}`);
    }
    return out.join("\n") + "\n";
  }

  json(extra: Record<string, number>): Record<string, unknown> {
    return {
      Timestamp: new Date().toISOString(),
      Gauges: [
        { Name: "secrethub.core.unsealed", Value: this.unsealed, Labels: {} },
        ...Object.entries(extra).map(([Name, Value]) => ({ Name, Value, Labels: {} })),
      ],
      Counters: [...this.requests].map(([k, v]) => ({
        Name: "secrethub.http.requests",
        Count: v,
        Labels: k,
      })),
      Samples: [],
      Points: [],
    };
  }
}
