/** In-process counters, rendered as Prometheus text or Vault's JSON metrics shape. */

type MetricType = "counter" | "gauge" | "histogram";

/**
 * Every metric the server exports, with its Prometheus type and help text. A `_total` is a
 * counter (it only goes up); the others are gauges or the request histogram.
 */
export const METRIC_HELP: Readonly<Record<string, { type: MetricType; help: string }>> = {
  secrethub_build_info: {
    type: "gauge",
    help: "Always 1; the labels name the SecretHub version and the Deno runtime.",
  },
  secrethub_core_unsealed: { type: "gauge", help: "1 while the core is unsealed, 0 while sealed." },
  secrethub_audit_log_failures_total: {
    type: "counter",
    help: "Audit records that could not be written since the server started: to the chain " +
      "(which failed the request it belonged to) or to a file device (which did not).",
  },
  secrethub_token_count: { type: "gauge", help: "Tokens currently stored." },
  secrethub_lease_count: { type: "gauge", help: "Leases currently tracked (not yet revoked)." },
  secrethub_http_requests_total: {
    type: "counter",
    help: "HTTP requests answered, by method, route and status code.",
  },
  secrethub_http_request_duration_seconds: {
    type: "histogram",
    help: "Time taken to answer HTTP requests, by route.",
  },
};

/** The `# HELP` and `# TYPE` lines of a metric; one not in METRIC_HELP still gets both. */
function header(name: string): string[] {
  const m = METRIC_HELP[name] ??
    { type: name.endsWith("_total") ? "counter" : "gauge", help: name.replaceAll("_", " ") };
  // Prometheus help text escapes backslashes and newlines.
  const help = m.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${m.type}`];
}

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
      ...header("secrethub_build_info"),
      `secrethub_build_info{version="0.1.0",deno="${Deno.version.deno}"} 1`,
    );
    out.push(...header("secrethub_core_unsealed"), `secrethub_core_unsealed ${this.unsealed}`);
    for (const [k, v] of Object.entries(extra)) out.push(...header(k), `${k} ${v}`);
    out.push(...header("secrethub_http_requests_total"));
    for (const [k, v] of this.requests) out.push(`secrethub_http_requests_total{${k}} ${v}`);
    out.push(...header("secrethub_http_request_duration_seconds"));
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
    const isCounter = (name: string) => header(name)[1]!.endsWith(" counter");
    const extras = Object.entries(extra);
    return {
      Timestamp: new Date().toISOString(),
      Gauges: [
        { Name: "secrethub.core.unsealed", Value: this.unsealed, Labels: {} },
        ...extras.filter(([n]) => !isCounter(n)).map(([Name, Value]) => ({
          Name,
          Value,
          Labels: {},
        })),
      ],
      Counters: [
        ...[...this.requests].map(([k, v]) => ({
          Name: "secrethub.http.requests",
          Count: v,
          // An object, as go-metrics' DisplayMetrics has it, not the Prometheus label text.
          Labels: Object.fromEntries([...k.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]])),
        })),
        ...extras.filter(([n]) => isCounter(n)).map(([Name, Count]) => ({
          Name,
          Count,
          Labels: {},
        })),
      ],
      Samples: [],
      Points: [],
    };
  }
}
