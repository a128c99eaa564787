import assert from "node:assert/strict";
import { Acl } from "../../core/policy/acl.ts";
import { parsePolicy } from "../../core/policy/parse.ts";
import { getTemplate, POLICY_TEMPLATES, renderTemplate } from "../../core/policy/templates.ts";
import { BadRequest, NotFound } from "../../lib/errors.ts";

/** Sample parameters that every template must accept. */
const SAMPLES: Record<string, Record<string, unknown>> = {
  business_hours: {
    path_prefix: "secret/data/app/",
    time_window: "08:30-18:00",
    days: ["mon", "tue", "wed", "thu", "fri"],
    timezone: "Europe/Berlin",
  },
  ip_restricted: { path_prefix: "secret/data/app/", cidrs: ["10.0.0.0/8", "2001:db8::/32"] },
  read_only: { path_prefix: "secret/data/shared/" },
  emergency_access: { path_prefix: "secret/data/prod/", max_ttl: "30m" },
  dev_environment: {},
  production_readonly: { cidrs: ["10.20.0.0/16"], max_ttl: "8h" },
  time_limited: { path_prefix: "secret/data/contract/", from: "2025-03-01", to: "2025-03-31" },
  multi_region: {
    path_prefix: "secret/data/app/",
    region_a_cidrs: ["10.1.0.0/16"],
    region_a_timezone: "America/New_York",
    region_b_cidrs: "10.2.0.0/16, fd00:2::/32",
    region_b_timezone: "Asia/Tokyo",
    region_c_cidrs: ["10.3.0.0/16"],
    time_window: "08:00-18:00",
  },
};

Deno.test("POLICY_TEMPLATES lists the eight templates", () => {
  assert.deepEqual(POLICY_TEMPLATES.map((t) => t.name).sort(), Object.keys(SAMPLES).sort());
  for (const t of POLICY_TEMPLATES) {
    assert.ok(t.description.length > 10, t.name);
    assert.ok(t.parameters.length > 0, t.name);
    // The route returns the descriptions as JSON.
    const shown = JSON.parse(JSON.stringify(t));
    assert.equal(shown.name, t.name);
    for (const p of shown.parameters) {
      assert.equal(typeof p.name, "string");
      assert.equal(typeof p.required, "boolean");
      assert.ok(
        ["string", "string_list", "duration", "cidr_list", "time_window", "date", "timezone"]
          .includes(p.type),
      );
    }
  }
});

Deno.test("only emergency_access carries the alert flag", () => {
  assert.deepEqual(POLICY_TEMPLATES.filter((t) => t.alert).map((t) => t.name), [
    "emergency_access",
  ]);
  assert.equal(getTemplate("emergency_access")?.alert, true);
});

for (const t of POLICY_TEMPLATES) {
  Deno.test(`template ${t.name} renders with sample parameters into a valid policy`, () => {
    const hcl = renderTemplate(t.name, SAMPLES[t.name]!);
    const policy = parsePolicy(`from-${t.name}`, hcl);
    assert.ok(policy.rules.length > 0);
    assert.equal(t.render(SAMPLES[t.name]!), hcl);
    if (t.name !== "read_only" && t.name !== "dev_environment") {
      assert.ok(policy.rules.every((r) => r.conditions), `${t.name} rules lack conditions`);
    }
  });
}

Deno.test("templates with only required parameters render and parse", () => {
  for (const t of POLICY_TEMPLATES) {
    const params: Record<string, unknown> = {};
    for (const p of t.parameters) {
      if (p.required) params[p.name] = SAMPLES[t.name]![p.name];
    }
    parsePolicy("minimal", renderTemplate(t.name, params));
  }
});

Deno.test("business_hours enforces its window, days and zone", () => {
  const acl = new Acl([
    parsePolicy("bh", renderTemplate("business_hours", SAMPLES.business_hours!)),
  ]);
  const at = (iso: string) =>
    acl.check("secret/data/app/db", "read", false, { now: Date.parse(iso) }).allowed;
  // Wednesday 2025-01-15: 08:30 Berlin is 07:30 UTC.
  assert.equal(at("2025-01-15T07:29:00Z"), false);
  assert.equal(at("2025-01-15T07:30:00Z"), true);
  assert.equal(at("2025-01-15T16:59:00Z"), true);
  assert.equal(at("2025-01-15T17:00:00Z"), false);
  // Saturday.
  assert.equal(at("2025-01-18T10:00:00Z"), false);
  assert.equal(
    acl.check("secret/data/app/db", "update", false, { now: Date.parse("2025-01-15T10:00:00Z") })
      .allowed,
    false,
  );
});

Deno.test("business_hours defaults to 09:00-17:00 Monday to Friday UTC", () => {
  const hcl = renderTemplate("business_hours", { path_prefix: "secret/data/app/" });
  const rule = parsePolicy("bh", hcl).rules[0]!;
  assert.deepEqual(JSON.parse(JSON.stringify(rule.conditions)), {
    time_of_day: "09:00-17:00",
    days_of_week: ["mon", "tue", "wed", "thu", "fri"],
    timezone: "UTC",
  });
  assert.deepEqual(rule.capabilities, ["read", "list"]);
  assert.equal(rule.pattern, "secret/data/app/*");
});

Deno.test("emergency_access requires a short token TTL", () => {
  const acl = new Acl([
    parsePolicy("bg", renderTemplate("emergency_access", SAMPLES.emergency_access!)),
  ]);
  const ok = (tokenTtl?: number) =>
    acl.check("secret/data/prod/db", "update", false, { now: 0, tokenTtl }).allowed;
  assert.equal(ok(1800), true);
  assert.equal(ok(1801), false);
  assert.equal(ok(0), false);
  assert.equal(ok(undefined), false);
  // Default 1h.
  const dflt = parsePolicy("bg", renderTemplate("emergency_access", { path_prefix: "x/" }));
  assert.equal(dflt.rules[0]!.conditions?.maxTtl, 3600);
  assert.throws(
    () => renderTemplate("emergency_access", { path_prefix: "x/", max_ttl: "5h" }),
    BadRequest,
  );
});

Deno.test("multi_region keeps each region's network tied to its own hours", () => {
  const acl = new Acl([
    parsePolicy("mr", renderTemplate("multi_region", SAMPLES.multi_region!)),
  ]);
  const at = (iso: string, remoteAddress: string) =>
    acl.check("secret/data/app/x", "read", false, { now: Date.parse(iso), remoteAddress })
      .allowed;
  // 14:00 UTC: 09:00 in New York (open), 23:00 in Tokyo (closed).
  assert.equal(at("2025-01-15T14:00:00Z", "10.1.0.5"), true);
  assert.equal(at("2025-01-15T14:00:00Z", "10.2.0.5"), false);
  // 01:00 UTC: 20:00 in New York (closed), 10:00 in Tokyo (open).
  assert.equal(at("2025-01-15T01:00:00Z", "10.1.0.5"), false);
  assert.equal(at("2025-01-15T01:00:00Z", "fd00:2::9"), true);
  // Region c has no zone given: UTC.
  assert.equal(at("2025-01-15T12:00:00Z", "10.3.0.1"), true);
  assert.equal(at("2025-01-15T12:00:00Z", "10.9.0.1"), false);
});

Deno.test("time_limited grants between its dates, inclusive", () => {
  const acl = new Acl([
    parsePolicy("tl", renderTemplate("time_limited", SAMPLES.time_limited!)),
  ]);
  const at = (iso: string) =>
    acl.check("secret/data/contract/a", "read", false, { now: Date.parse(iso) }).allowed;
  assert.equal(at("2025-02-28T23:59:59Z"), false);
  assert.equal(at("2025-03-01T00:00:00Z"), true);
  assert.equal(at("2025-03-31T23:59:59Z"), true);
  assert.equal(at("2025-04-01T00:00:00Z"), false);
});

Deno.test("dev_environment covers the KV v2 paths of the environment only", () => {
  const acl = new Acl([
    parsePolicy("dev", renderTemplate("dev_environment", { environment: "staging" })),
  ]);
  assert.equal(acl.check("secret/data/staging/a", "create").allowed, true);
  assert.equal(acl.check("secret/metadata/staging/", "list").allowed, true);
  assert.equal(acl.check("secret/destroy/staging/a", "update").allowed, true);
  assert.equal(acl.check("secret/data/prod/a", "read").allowed, false);
});

function assert400(fn: () => unknown, includes: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BadRequest, `expected BadRequest, got ${err}`);
    assert.equal(err.status, 400);
    assert.ok(err.message.includes(includes), `${JSON.stringify(err.message)} lacks ${includes}`);
    return true;
  });
}

Deno.test("renderTemplate() validates parameters", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["ip_restricted", { path_prefix: "secret/data/a/" }, 'missing required parameter "cidrs"'],
    ["ip_restricted", { cidrs: ["10.0.0.0/8"] }, 'missing required parameter "path_prefix"'],
    ["read_only", { path_prefix: "a/", colour: "red" }, 'unknown parameter "colour"'],
    ["ip_restricted", { path_prefix: "a/", cidrs: 10 }, 'parameter "cidrs"'],
    ["ip_restricted", { path_prefix: "a/", cidrs: [] }, 'parameter "cidrs"'],
    ["ip_restricted", { path_prefix: "a/", cidrs: ["10.0.0.0/40"] }, 'parameter "cidrs"'],
    ["ip_restricted", { path_prefix: "a/", cidrs: ["10.0.0.0/8"], capabilities: ["fly"] }, "fly"],
    ["business_hours", { path_prefix: "a/", time_window: "9-5" }, 'parameter "time_window"'],
    ["business_hours", { path_prefix: "a/", timezone: "Mars/Base" }, 'parameter "timezone"'],
    ["business_hours", { path_prefix: "a/", days: ["caturday"] }, 'parameter "days"'],
    ["business_hours", { path_prefix: 7 }, 'parameter "path_prefix"'],
    ["time_limited", { path_prefix: "a/", to: "2025-13-01" }, 'parameter "to"'],
    ["time_limited", { path_prefix: "a/", from: "2025-05-01", to: "2025-04-01" }, "after"],
    ["emergency_access", { path_prefix: "a/", max_ttl: "soon" }, 'parameter "max_ttl"'],
    ["emergency_access", { path_prefix: "a/", max_ttl: true }, 'parameter "max_ttl"'],
    ["multi_region", { path_prefix: "a/", region_a_cidrs: ["10.0.0.0/8"] }, "region_b_cidrs"],
  ];
  for (const [name, params, message] of cases) {
    assert400(() => renderTemplate(name, params), message);
  }
  assert400(() => renderTemplate("read_only", null as never), "must be an object");
});

Deno.test("renderTemplate() of an unknown template is 404", () => {
  assert.throws(
    () => renderTemplate("god_mode", {}),
    (e: unknown) => e instanceof NotFound && e.status === 404,
  );
  assert.equal(getTemplate("god_mode"), undefined);
});

Deno.test("template parameters cannot inject HCL", () => {
  const attempts: [string, Record<string, unknown>][] = [
    ["read_only", { path_prefix: 'secret/" { capabilities = ["sudo"] } path "x' }],
    ["read_only", { path_prefix: 'secret/}\npath "*" {\ncapabilities = ["sudo"]\n}\n#' }],
    ["read_only", { path_prefix: "secret/data/app/\n" }],
    ["read_only", { path_prefix: "secret/{x}/" }],
    ["read_only", { path_prefix: 'secret\\"/' }],
    ["read_only", { path_prefix: "secret/*/" }],
    ["read_only", { path_prefix: "secret/ data/" }],
    ["read_only", { path_prefix: "secret/#/" }],
    ["read_only", { path_prefix: "secret/+" }],
    ["read_only", { path_prefix: "" }],
    ["read_only", { path_prefix: "a/".repeat(200) }],
    ["read_only", {
      path_prefix: "a/",
      cidrs: ['10.0.0.0/8"] } path "*" { capabilities = ["sudo'],
    }],
    ["read_only", { path_prefix: "a/", cidrs: ['fe80::1%"}'] }],
    ["dev_environment", { mount: "secret/data/x" }],
    ["dev_environment", { environment: 'dev" }' }],
    ["business_hours", { path_prefix: "a/", days: ['mon"]}'] }],
    ["business_hours", { path_prefix: "a/", timezone: 'UTC"\nsource_ip = ["0.0.0.0/0"]' }],
    ["business_hours", { path_prefix: "a/", time_window: '09:00-17:00" }' }],
    ["ip_restricted", { path_prefix: "a/", cidrs: ["10.0.0.0/8"], capabilities: ['read"]'] }],
    ["time_limited", { path_prefix: "a/", to: '2025-01-01" }' }],
  ];
  for (const [name, params] of attempts) {
    assert.throws(
      () => renderTemplate(name, params),
      (e: unknown) => e instanceof BadRequest,
      `${name} ${JSON.stringify(params)}`,
    );
    // render() itself validates too, so no caller can bypass renderTemplate's checks.
    assert.throws(() => getTemplate(name)!.render(params), BadRequest);
  }
});

Deno.test("a leading slash on path_prefix is dropped and lists may be comma-separated", () => {
  const hcl = renderTemplate("ip_restricted", {
    path_prefix: "/secret/data/app/",
    cidrs: "10.0.0.0/8, 192.168.0.0/16",
    capabilities: "read,list,read",
  });
  const rule = parsePolicy("x", hcl).rules[0]!;
  assert.equal(rule.pattern, "secret/data/app/*");
  assert.deepEqual(rule.capabilities, ["read", "list"]);
  assert.deepEqual(rule.conditions?.spec.source_ip, ["10.0.0.0/8", "192.168.0.0/16"]);
});
