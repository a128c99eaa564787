import assert from "node:assert/strict";
import { Acl } from "../../core/policy/acl.ts";
import { parsePolicy } from "../../core/policy/parse.ts";
import { BadRequest } from "../../lib/errors.ts";
import type { EvalContext, Operation, Policy } from "../../core/policy/types.ts";

let counter = 0;
function pol(text: string): Policy {
  return parsePolicy(`c${counter++}`, text);
}

/** One rule on "secret/*" with the given HCL inside its conditions block. */
function aclWith(conditions: string, caps: string[] = ["read"]): Acl {
  return new Acl([
    pol(`path "secret/*" {
  capabilities = ${JSON.stringify(caps)}
  conditions {
    ${conditions}
  }
}`),
  ]);
}

const at = (iso: string): number => {
  const ms = Date.parse(iso);
  assert.ok(Number.isFinite(ms), iso);
  return ms;
};

function allowedAt(acl: Acl, iso: string, extra: Partial<EvalContext> = {}): boolean {
  return acl.check("secret/x", "read", false, { now: at(iso), ...extra }).allowed;
}

function assertBadRequest(fn: () => unknown, includes: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BadRequest, `expected BadRequest, got ${err}`);
    assert.equal(err.status, 400);
    assert.ok(err.message.includes(includes), `${JSON.stringify(err.message)} lacks ${includes}`);
    return true;
  });
}

// --- time_of_day ------------------------------------------------------------------------------

const TIME_CASES: { window: string; tz?: string; at: string; allowed: boolean }[] = [
  { window: "09:00-17:00", at: "2025-01-15T08:59:59Z", allowed: false },
  { window: "09:00-17:00", at: "2025-01-15T09:00:00Z", allowed: true },
  { window: "09:00-17:00", at: "2025-01-15T12:00:00Z", allowed: true },
  { window: "09:00-17:00", at: "2025-01-15T16:59:59Z", allowed: true },
  { window: "09:00-17:00", at: "2025-01-15T17:00:00Z", allowed: false },
  // Wrapping midnight: end exclusive, start inclusive.
  { window: "22:00-06:00", at: "2025-01-15T23:30:00Z", allowed: true },
  { window: "22:00-06:00", at: "2025-01-15T05:59:00Z", allowed: true },
  { window: "22:00-06:00", at: "2025-01-15T00:00:00Z", allowed: true },
  { window: "22:00-06:00", at: "2025-01-15T22:00:00Z", allowed: true },
  { window: "22:00-06:00", at: "2025-01-15T21:59:59Z", allowed: false },
  { window: "22:00-06:00", at: "2025-01-15T06:00:00Z", allowed: false },
  { window: "22:00-06:00", at: "2025-01-15T12:00:00Z", allowed: false },
  { window: "00:00-24:00", at: "2025-01-15T23:59:59Z", allowed: true },
  // Europe/Berlin is UTC+1 in winter and UTC+2 in summer.
  { window: "09:00-17:00", tz: "Europe/Berlin", at: "2025-01-15T07:59:00Z", allowed: false },
  { window: "09:00-17:00", tz: "Europe/Berlin", at: "2025-01-15T08:00:00Z", allowed: true },
  { window: "09:00-17:00", tz: "Europe/Berlin", at: "2025-01-15T15:59:00Z", allowed: true },
  { window: "09:00-17:00", tz: "Europe/Berlin", at: "2025-01-15T16:00:00Z", allowed: false },
  { window: "09:00-17:00", tz: "Europe/Berlin", at: "2025-07-15T06:59:00Z", allowed: false },
  { window: "09:00-17:00", tz: "Europe/Berlin", at: "2025-07-15T07:00:00Z", allowed: true },
  { window: "09:00-17:00", tz: "Europe/Berlin", at: "2025-07-15T14:59:00Z", allowed: true },
  { window: "09:00-17:00", tz: "Europe/Berlin", at: "2025-07-15T15:00:00Z", allowed: false },
  // The same instant read in UTC: 16:30 UTC is outside 09:00-17:00 Berlin but inside in UTC.
  { window: "09:00-17:00", tz: "UTC", at: "2025-01-15T16:30:00Z", allowed: true },
  { window: "09:00-17:00", tz: "Europe/Berlin", at: "2025-01-15T16:30:00Z", allowed: false },
  // Berlin springs forward at 01:00 UTC on 2025-03-30: 01:59 CET is followed by 03:00 CEST.
  { window: "00:00-02:00", tz: "Europe/Berlin", at: "2025-03-30T00:59:59Z", allowed: true },
  { window: "00:00-02:00", tz: "Europe/Berlin", at: "2025-03-30T01:00:00Z", allowed: false },
  // A half-hour zone and one east of UTC wrapping midnight.
  { window: "09:00-17:00", tz: "Asia/Kolkata", at: "2025-01-15T03:29:00Z", allowed: false },
  { window: "09:00-17:00", tz: "Asia/Kolkata", at: "2025-01-15T03:30:00Z", allowed: true },
  { window: "22:00-06:00", tz: "Asia/Tokyo", at: "2025-01-15T13:00:00Z", allowed: true },
  { window: "22:00-06:00", tz: "Asia/Tokyo", at: "2025-01-15T21:00:00Z", allowed: false },
];

for (const c of TIME_CASES) {
  Deno.test(`time_of_day ${c.window} ${c.tz ?? "(UTC)"} at ${c.at} → ${c.allowed}`, () => {
    const tz = c.tz ? `timezone = "${c.tz}"` : "";
    const acl = aclWith(`time_of_day = "${c.window}"\n${tz}`);
    assert.equal(allowedAt(acl, c.at), c.allowed);
  });
}

Deno.test("time_of_day failure names the condition, window and zone", () => {
  const acl = aclWith(`time_of_day = "09:00-17:00"\ntimezone = "Europe/Berlin"`);
  const r = acl.check("secret/x", "read", false, { now: at("2025-01-15T20:00:00Z") });
  assert.equal(r.allowed, false);
  assert.equal(r.reason, 'condition "time_of_day" not satisfied (09:00-17:00 Europe/Berlin)');
  assert.equal(r.matchedPath, "secret/*");
});

// --- days_of_week -----------------------------------------------------------------------------

// 2025-06-01 is a Sunday, 2025-06-02 a Monday.
const DAY_CASES: { days: string[]; tz: string; at: string; allowed: boolean }[] = [
  { days: ["sun"], tz: "UTC", at: "2025-06-01T23:59:59Z", allowed: true },
  { days: ["sun"], tz: "UTC", at: "2025-06-02T00:00:00Z", allowed: false },
  { days: ["mon"], tz: "UTC", at: "2025-06-02T00:00:00Z", allowed: true },
  // New York is UTC-4 in June: 03:30 UTC Monday is still Sunday 23:30 there.
  { days: ["sun"], tz: "America/New_York", at: "2025-06-02T03:30:00Z", allowed: true },
  { days: ["mon"], tz: "America/New_York", at: "2025-06-02T03:30:00Z", allowed: false },
  { days: ["sun"], tz: "America/New_York", at: "2025-06-02T04:00:00Z", allowed: false },
  { days: ["mon"], tz: "America/New_York", at: "2025-06-02T04:00:00Z", allowed: true },
  // Tokyo is UTC+9: 15:00 UTC Sunday is already Monday 00:00 there.
  { days: ["sun"], tz: "Asia/Tokyo", at: "2025-06-01T14:59:59Z", allowed: true },
  { days: ["mon"], tz: "Asia/Tokyo", at: "2025-06-01T14:59:59Z", allowed: false },
  { days: ["mon"], tz: "Asia/Tokyo", at: "2025-06-01T15:00:00Z", allowed: true },
  { days: ["sat", "sun"], tz: "Asia/Tokyo", at: "2025-06-01T15:00:00Z", allowed: false },
  { days: ["Monday", "FRI"], tz: "UTC", at: "2025-06-06T12:00:00Z", allowed: true },
  {
    days: ["mon", "tue", "wed", "thu", "fri"],
    tz: "UTC",
    at: "2025-06-07T12:00:00Z",
    allowed: false,
  },
  // Before 1970 (negative epoch days) the weekday arithmetic must still hold: a Friday.
  { days: ["fri"], tz: "UTC", at: "1969-12-26T12:00:00Z", allowed: true },
];

for (const c of DAY_CASES) {
  Deno.test(`days_of_week ${c.days.join(",")} ${c.tz} at ${c.at} → ${c.allowed}`, () => {
    const acl = aclWith(`days_of_week = ${JSON.stringify(c.days)}\ntimezone = "${c.tz}"`);
    assert.equal(allowedAt(acl, c.at), c.allowed);
  });
}

// --- date_range -------------------------------------------------------------------------------

const DATE_CASES: { range: string; tz?: string; at: string; allowed: boolean }[] = [
  { range: `from = "2025-03-01"\nto = "2025-03-31"`, at: "2025-02-28T23:59:59Z", allowed: false },
  { range: `from = "2025-03-01"\nto = "2025-03-31"`, at: "2025-03-01T00:00:00Z", allowed: true },
  { range: `from = "2025-03-01"\nto = "2025-03-31"`, at: "2025-03-31T23:59:59Z", allowed: true },
  { range: `from = "2025-03-01"\nto = "2025-03-31"`, at: "2025-04-01T00:00:00Z", allowed: false },
  { range: `from = "2025-03-01"`, at: "2099-01-01T00:00:00Z", allowed: true },
  { range: `from = "2025-03-01"`, at: "2025-02-01T00:00:00Z", allowed: false },
  { range: `to = "2025-03-01"`, at: "1999-01-01T00:00:00Z", allowed: true },
  { range: `to = "2025-03-01"`, at: "2025-03-02T00:00:00Z", allowed: false },
  { range: `from = "2024-02-29"\nto = "2024-02-29"`, at: "2024-02-29T12:00:00Z", allowed: true },
  // Auckland is UTC+13 in March: 11:00 UTC on Feb 28 is already March 1 there.
  {
    range: `from = "2025-03-01"`,
    tz: "Pacific/Auckland",
    at: "2025-02-28T10:59:59Z",
    allowed: false,
  },
  {
    range: `from = "2025-03-01"`,
    tz: "Pacific/Auckland",
    at: "2025-02-28T11:00:00Z",
    allowed: true,
  },
  {
    range: `to = "2025-03-31"`,
    tz: "America/Los_Angeles",
    at: "2025-04-01T06:59:59Z",
    allowed: true,
  },
  {
    range: `to = "2025-03-31"`,
    tz: "America/Los_Angeles",
    at: "2025-04-01T07:00:00Z",
    allowed: false,
  },
];

for (const c of DATE_CASES) {
  const label = c.range.replace(/\n/g, " ");
  Deno.test(`date_range ${label} ${c.tz ?? "(UTC)"} at ${c.at} → ${c.allowed}`, () => {
    const tz = c.tz ? `timezone = "${c.tz}"` : "";
    const acl = aclWith(`date_range {\n${c.range}\n}\n${tz}`);
    assert.equal(allowedAt(acl, c.at), c.allowed);
  });
}

// --- source_ip --------------------------------------------------------------------------------

const IP_CASES: { cidrs: string[]; address: string; allowed: boolean }[] = [
  { cidrs: ["10.0.0.0/8"], address: "10.0.0.0", allowed: true },
  { cidrs: ["10.0.0.0/8"], address: "10.255.255.255", allowed: true },
  { cidrs: ["10.0.0.0/8"], address: "11.0.0.0", allowed: false },
  { cidrs: ["10.0.0.0/8"], address: "9.255.255.255", allowed: false },
  { cidrs: ["192.168.1.7"], address: "192.168.1.7", allowed: true },
  { cidrs: ["192.168.1.7"], address: "192.168.1.8", allowed: false },
  { cidrs: ["10.0.0.0/8", "172.16.0.0/12"], address: "172.31.0.1", allowed: true },
  { cidrs: ["2001:db8::/32"], address: "2001:db8:ffff::1", allowed: true },
  { cidrs: ["2001:db8::/32"], address: "2001:db9::1", allowed: false },
  { cidrs: ["2001:db8::/32"], address: "[2001:db8::1]", allowed: true },
  { cidrs: ["fe80::/10"], address: "fe80::1%eth0", allowed: true },
  { cidrs: ["::1/128"], address: "::1", allowed: true },
  // IPv4-mapped IPv6 addresses (a dual-stack listener) match IPv4 blocks.
  { cidrs: ["10.0.0.0/8"], address: "::ffff:10.1.2.3", allowed: true },
  // No cross-family matches otherwise.
  { cidrs: ["2001:db8::/32"], address: "10.1.2.3", allowed: false },
  { cidrs: ["0.0.0.0/0"], address: "2001:db8::1", allowed: false },
  { cidrs: ["::/0"], address: "2001:db8::1", allowed: true },
];

for (const c of IP_CASES) {
  Deno.test(`source_ip ${c.cidrs.join(",")} from ${c.address} → ${c.allowed}`, () => {
    const acl = aclWith(`source_ip = ${JSON.stringify(c.cidrs)}`);
    const r = acl.check("secret/x", "read", false, { now: Date.now(), remoteAddress: c.address });
    assert.equal(r.allowed, c.allowed);
    if (!c.allowed) assert.match(r.reason ?? "", /^condition "source_ip" not satisfied/);
  });
}

Deno.test("source_ip denies when the address is missing, unparsable, or there is no context", () => {
  const acl = aclWith(`source_ip = ["0.0.0.0/0", "::/0"]`);
  const cases: [EvalContext | undefined, string][] = [
    [{ now: Date.now() }, "no remote address"],
    [{ now: Date.now(), remoteAddress: "" }, "no remote address"],
    [{ now: Date.now(), remoteAddress: "not-an-ip" }, "unparsable remote address"],
    [{ now: Date.now(), remoteAddress: "10.0.0.256" }, "unparsable remote address"],
    [undefined, "no request context"],
  ];
  for (const [ctx, why] of cases) {
    const r = acl.check("secret/x", "read", false, ctx);
    assert.equal(r.allowed, false, JSON.stringify(ctx));
    assert.ok(
      r.reason?.startsWith(`condition "source_ip" cannot be evaluated (${why}`),
      r.reason,
    );
    assert.deepEqual(acl.capabilities("secret/x", ctx), ["deny"]);
  }
  assert.equal(
    acl.check("secret/x", "read", false, { now: 0, remoteAddress: "1.2.3.4" }).allowed,
    true,
  );
});

// --- max_ttl ----------------------------------------------------------------------------------

const TTL_CASES: { ttl: number | undefined; allowed: boolean; reason?: string }[] = [
  { ttl: 60, allowed: true },
  { ttl: 3600, allowed: true },
  { ttl: 3601, allowed: false, reason: "token TTL 3601s exceeds 3600s" },
  { ttl: 0, allowed: false, reason: "token never expires" },
  { ttl: undefined, allowed: false, reason: "cannot be evaluated (no token TTL)" },
];

for (const c of TTL_CASES) {
  Deno.test(`max_ttl 1h with token TTL ${c.ttl} → ${c.allowed}`, () => {
    const acl = aclWith(`max_ttl = "1h"`);
    const r = acl.check("secret/x", "read", false, { now: Date.now(), tokenTtl: c.ttl });
    assert.equal(r.allowed, c.allowed);
    if (c.reason) assert.ok(r.reason?.includes(c.reason), r.reason);
  });
}

// --- every condition is evaluated -------------------------------------------------------------

Deno.test("every condition is evaluated and every failure reported", () => {
  const acl = aclWith(`source_ip = ["10.0.0.0/8"]
time_of_day = "09:00-17:00"
days_of_week = ["mon"]
date_range { from = "2030-01-01" }
max_ttl = "1h"`);
  // Sunday 2025-06-01 20:00 UTC, outside everything.
  const r = acl.check("secret/x", "read", false, {
    now: at("2025-06-01T20:00:00Z"),
    remoteAddress: "192.0.2.1",
    tokenTtl: 0,
  });
  assert.equal(r.allowed, false);
  for (const key of ["source_ip", "time_of_day", "days_of_week", "date_range", "max_ttl"]) {
    assert.ok(r.reason?.includes(`condition "${key}" not satisfied`), `${key}: ${r.reason}`);
  }
  // All satisfied: Monday 2030-01-07 10:00 UTC.
  const ok = acl.check("secret/x", "read", false, {
    now: at("2030-01-07T10:00:00Z"),
    remoteAddress: "10.9.9.9",
    tokenTtl: 300,
  });
  assert.equal(ok.allowed, true);
  assert.equal(ok.reason, undefined);
});

Deno.test("conditions are re-evaluated on every call, not memoised with the path", () => {
  const acl = aclWith(`source_ip = ["10.0.0.0/8"]`);
  for (let i = 0; i < 3; i++) {
    assert.equal(
      acl.check("secret/x", "read", false, { now: 0, remoteAddress: "10.0.0.1" }).allowed,
      true,
    );
    assert.equal(
      acl.check("secret/x", "read", false, { now: 0, remoteAddress: "11.0.0.1" }).allowed,
      false,
    );
  }
});

Deno.test("a time condition with an invalid clock denies", () => {
  const acl = aclWith(`time_of_day = "00:00-24:00"`);
  const r = acl.check("secret/x", "read", false, { now: NaN });
  assert.equal(r.allowed, false);
  assert.match(r.reason ?? "", /condition "time_of_day" cannot be evaluated/);
});

// --- parsing ----------------------------------------------------------------------------------

Deno.test("conditions parse from HCL and from the JSON form into the same rule", () => {
  const hcl = pol(`path "secret/data/x/*" {
  capabilities = ["read"]
  conditions { source_ip = ["10.0.0.0/8"] time_of_day = "9:00 - 17:00" }
}`);
  const json = pol(
    '{"path":{"secret/data/x/*":{"capabilities":["read"],"conditions":' +
      '{"source_ip":["10.0.0.0/8"],"time_of_day":"09:00-17:00"}}}}',
  );
  assert.deepEqual(JSON.parse(JSON.stringify(hcl.rules)), JSON.parse(JSON.stringify(json.rules)));
  assert.deepEqual(JSON.parse(JSON.stringify(json.rules)), [{
    pattern: "secret/data/x/*",
    capabilities: ["read"],
    conditions: { source_ip: ["10.0.0.0/8"], time_of_day: "09:00-17:00" },
  }]);
  assert.equal(hcl.rules[0]!.conditions!.timeStart, 9 * 60);
  assert.equal(hcl.rules[0]!.conditions!.timeEnd, 17 * 60);
});

Deno.test("conditions are normalised for display", () => {
  const p = pol(`path "a" {
  capabilities = ["read"]
  conditions {
    days_of_week = ["FRIDAY", "mon", "mon"]
    timezone = "europe/berlin"
    time_of_day = "22:00-06:00"
    date_range = { to = "2025-12-31" }
    max_ttl = "90m"
  }
}`);
  assert.deepEqual(JSON.parse(JSON.stringify(p.rules[0]!.conditions)), {
    time_of_day: "22:00-06:00",
    days_of_week: ["mon", "fri"],
    date_range: { to: "2025-12-31" },
    timezone: "Europe/Berlin",
    max_ttl: 5400,
  });
  assert.equal(p.rules[0]!.conditions!.daysMask, (1 << 1) | (1 << 5));
  assert.equal(p.rules[0]!.conditions!.dateTo, 20251231);
});

const REJECTED: { name: string; conditions: string; message: string }[] = [
  { name: "an unknown key", conditions: `mfa = true`, message: 'unknown condition "mfa"' },
  {
    name: "a misspelt key",
    conditions: `source_ips = ["10.0.0.0/8"]`,
    message: 'unknown condition "source_ips"',
  },
  { name: "an empty block", conditions: ``, message: "conditions" },
  {
    name: "a duplicate key",
    conditions: `max_ttl = "1h"\nmax_ttl = "2h"`,
    message: 'duplicate condition "max_ttl"',
  },
  {
    name: "an unknown timezone",
    conditions: `time_of_day = "09:00-17:00"\ntimezone = "Mars/Olympus"`,
    message: 'unknown timezone "Mars/Olympus"',
  },
  { name: "a timezone alone", conditions: `timezone = "UTC"`, message: "timezone" },
  { name: "a malformed window", conditions: `time_of_day = "9-5"`, message: "time_of_day" },
  { name: "an hour past 23", conditions: `time_of_day = "25:00-26:00"`, message: "time_of_day" },
  { name: "minutes past 59", conditions: `time_of_day = "09:60-10:00"`, message: "time_of_day" },
  { name: "an empty window", conditions: `time_of_day = "09:00-09:00"`, message: "must differ" },
  { name: "an unknown day", conditions: `days_of_week = ["funday"]`, message: '"funday"' },
  { name: "an empty day list", conditions: `days_of_week = []`, message: "days_of_week" },
  { name: "days as a string", conditions: `days_of_week = "mon"`, message: "days_of_week" },
  { name: "a bad CIDR", conditions: `source_ip = ["10.0.0.0/33"]`, message: "invalid CIDR" },
  { name: "a bad address", conditions: `source_ip = ["10.0.0"]`, message: "invalid CIDR" },
  { name: "an empty CIDR list", conditions: `source_ip = []`, message: "source_ip" },
  { name: "a non-list CIDR", conditions: `source_ip = "10.0.0.0/8"`, message: "source_ip" },
  { name: "a bad duration", conditions: `max_ttl = "forever"`, message: "max_ttl" },
  { name: "a zero duration", conditions: `max_ttl = "0s"`, message: "max_ttl" },
  {
    name: "an impossible date",
    conditions: `date_range { to = "2025-02-29" }`,
    message: "no such date",
  },
  { name: "a non-ISO date", conditions: `date_range { to = "12/31/2025" }`, message: "YYYY-MM-DD" },
  {
    name: "from after to",
    conditions: `date_range {\nfrom = "2025-02-01"\nto = "2025-01-01"\n}`,
    message: "after",
  },
  { name: "an empty date range", conditions: `date_range {}`, message: "date_range" },
  {
    name: "an unknown date_range key",
    conditions: `date_range { until = "2025-01-01" }`,
    message: '"until"',
  },
];

for (const c of REJECTED) {
  Deno.test(`parsePolicy() rejects conditions with ${c.name} (400)`, () => {
    assertBadRequest(
      () =>
        pol(`path "secret/*" {\n capabilities = ["read"]\n conditions {\n${c.conditions}\n }\n}`),
      c.message,
    );
  });
}

Deno.test("parsePolicy() rejects unknown condition keys and bad timezones in JSON too", () => {
  assertBadRequest(
    () =>
      pol(
        '{"path":{"a":{"capabilities":["read"],"conditions":{"source_ip":["10.0.0.0/8"],"geo":"eu"}}}}',
      ),
    'unknown condition "geo"',
  );
  assertBadRequest(
    () =>
      pol(
        '{"path":{"a":{"capabilities":["read"],"conditions":{"time_of_day":"09:00-17:00","timezone":"Nowhere/Land"}}}}',
      ),
    'unknown timezone "Nowhere/Land"',
  );
  assertBadRequest(
    () => pol('{"path":{"a":{"capabilities":["read"],"conditions":"source_ip"}}}'),
    '"conditions" must be a block',
  );
  assertBadRequest(
    () => pol('path "a" {\n capabilities = ["read"]\n conditions {}\n conditions {}\n}'),
    "conditions",
  );
});

// --- rules of one pattern ---------------------------------------------------------------------

const INSIDE: EvalContext = { now: 0, remoteAddress: "10.0.0.1" };
const OUTSIDE: EvalContext = { now: 0, remoteAddress: "192.0.2.1" };
const NO_ADDRESS: EvalContext = { now: 0 };

function check(acl: Acl, op: Operation, ctx: EvalContext | undefined, path = "secret/x"): boolean {
  return acl.check(path, op, false, ctx).allowed;
}

Deno.test("a conditioned grant adds its capabilities only while its conditions hold", () => {
  const acl = new Acl([
    pol(`path "secret/*" { capabilities = ["read"] }`),
    pol(`path "secret/*" {
  capabilities = ["update"]
  conditions { source_ip = ["10.0.0.0/8"] }
}`),
  ]);
  assert.equal(check(acl, "read", OUTSIDE), true);
  assert.equal(check(acl, "read", undefined), true);
  assert.equal(check(acl, "update", INSIDE), true);
  assert.equal(check(acl, "update", OUTSIDE), false);
  assert.equal(check(acl, "update", NO_ADDRESS), false);
  assert.deepEqual(acl.capabilities("secret/x", INSIDE), ["read", "update"]);
  assert.deepEqual(acl.capabilities("secret/x", OUTSIDE), ["read"]);
  const r = acl.check("secret/x", "update", false, OUTSIDE);
  assert.deepEqual(r.capabilities, ["read"]);
  assert.match(r.reason ?? "", /^condition "source_ip" not satisfied/);
});

Deno.test("duplicate blocks in one policy keep their conditions apart", () => {
  const p = pol(`
path "secret/*" { capabilities = ["read"] }
path "secret/*" {
  capabilities = ["delete"]
  conditions { source_ip = ["10.0.0.0/8"] }
}
path "secret/*" {
  capabilities = ["list"]
  conditions { source_ip = ["10.0.0.0/8"] }
}`);
  assert.equal(p.rules.length, 2);
  assert.deepEqual(p.rules.map((r) => r.capabilities), [["read"], ["delete", "list"]]);
  const acl = new Acl([p]);
  assert.equal(check(acl, "delete", OUTSIDE), false);
  assert.equal(check(acl, "delete", INSIDE), true);
  assert.equal(check(acl, "list", INSIDE), true);
  assert.equal(check(acl, "read", OUTSIDE), true);
});

Deno.test("rules with different conditions each grant on their own (any may allow)", () => {
  const acl = new Acl([
    pol(`path "secret/*" {
  capabilities = ["read"]
  conditions { source_ip = ["10.0.0.0/8"] }
}`),
    pol(`path "secret/*" {
  capabilities = ["read"]
  conditions { source_ip = ["2001:db8::/32"] }
}`),
  ]);
  assert.equal(check(acl, "read", INSIDE), true);
  assert.equal(check(acl, "read", { now: 0, remoteAddress: "2001:db8::5" }), true);
  assert.equal(check(acl, "read", OUTSIDE), false);
});

Deno.test("rules with equal conditions in several policies merge", () => {
  const cond = `conditions { source_ip = ["10.0.0.0/8"] }`;
  const acl = new Acl([
    pol(`path "secret/*" {\n capabilities = ["read"]\n ${cond}\n}`),
    pol(`path "secret/*" {\n capabilities = ["list"]\n ${cond}\n}`),
  ]);
  assert.deepEqual(acl.check("secret/x", "read", false, INSIDE).capabilities, ["read", "list"]);
  assert.deepEqual(acl.capabilities("secret/x", OUTSIDE), ["deny"]);
});

Deno.test("an unconditioned deny wins over conditioned grants", () => {
  const acl = new Acl([
    pol(
      `path "secret/*" {\n capabilities = ["read"]\n conditions { source_ip = ["10.0.0.0/8"] }\n}`,
    ),
    pol(`path "secret/*" { capabilities = ["deny"] }`),
  ]);
  const r = acl.check("secret/x", "read", false, INSIDE);
  assert.equal(r.allowed, false);
  assert.deepEqual(r.capabilities, ["deny"]);
  assert.equal(r.reason, 'denied by rule "secret/*"');
});

Deno.test("a conditioned deny denies only while its conditions hold, and when undecidable", () => {
  const acl = new Acl([
    pol(`path "secret/*" { capabilities = ["read", "list"] }`),
    pol(
      `path "secret/*" {\n capabilities = ["deny"]\n conditions { source_ip = ["10.0.0.0/8"] }\n}`,
    ),
  ]);
  const denied = acl.check("secret/x", "read", false, INSIDE);
  assert.equal(denied.allowed, false);
  assert.deepEqual(denied.capabilities, ["deny"]);
  assert.match(denied.reason ?? "", /^denied by rule "secret\/\*": its conditions hold/);
  assert.equal(check(acl, "read", OUTSIDE), true);
  assert.deepEqual(acl.capabilities("secret/x", OUTSIDE), ["list", "read"]);
  // Fail closed: without an address the deny cannot be ruled out.
  const unknown = acl.check("secret/x", "read", false, NO_ADDRESS);
  assert.equal(unknown.allowed, false);
  assert.match(unknown.reason ?? "", /cannot all be evaluated.*no remote address/);
  assert.equal(check(acl, "read", undefined), false);
  assert.deepEqual(acl.capabilities("secret/x"), ["deny"]);
});

Deno.test("a failing condition on a specific pattern does not fall back to a broader one", () => {
  const acl = new Acl([
    pol(`path "secret/*" { capabilities = ["read"] }`),
    pol(
      `path "secret/prod/*" {\n capabilities = ["read"]\n conditions { source_ip = ["10.0.0.0/8"] }\n}`,
    ),
  ]);
  assert.equal(check(acl, "read", OUTSIDE, "secret/prod/db"), false);
  assert.equal(acl.check("secret/prod/db", "read", false, OUTSIDE).matchedPath, "secret/prod/*");
  assert.equal(check(acl, "read", INSIDE, "secret/prod/db"), true);
  assert.equal(check(acl, "read", OUTSIDE, "secret/dev/db"), true);
});

Deno.test("sudo from an unconditioned rule combines with a conditioned grant while it holds", () => {
  const acl = new Acl([
    pol(`path "sys/seal" { capabilities = ["sudo"] }`),
    pol(
      `path "sys/seal" {\n capabilities = ["update"]\n conditions { source_ip = ["10.0.0.0/8"] }\n}`,
    ),
  ]);
  assert.equal(acl.check("sys/seal", "update", true, INSIDE).allowed, true);
  const r = acl.check("sys/seal", "update", true, OUTSIDE);
  assert.equal(r.allowed, false);
  assert.match(r.reason ?? "", /source_ip/);
});

Deno.test("parameter rules of a conditioned grant apply only while it holds", () => {
  const acl = new Acl([
    pol(`path "secret/*" {\n capabilities = ["update"]\n allowed_parameters = { "a" = [] }\n}`),
    pol(`path "secret/*" {
  capabilities = ["update"]
  allowed_parameters = { "b" = [] }
  conditions { source_ip = ["10.0.0.0/8"] }
}`),
  ]);
  const inside = acl.check("secret/x", "update", false, INSIDE).rule;
  const outside = acl.check("secret/x", "update", false, OUTSIDE).rule;
  assert.deepEqual(Object.keys(inside?.allowedParameters ?? {}).sort(), ["a", "b"]);
  assert.deepEqual(Object.keys(outside?.allowedParameters ?? {}), ["a"]);
  assert.equal(inside?.conditions, undefined);
});

Deno.test("a rule without conditions is decided as before, even without a context", () => {
  const acl = new Acl([pol(`path "secret/*" { capabilities = ["read"] }`)]);
  assert.equal(check(acl, "read", undefined), true);
  const r = acl.check("secret/x", "update");
  assert.equal(r.reason, 'rule "secret/*" does not grant "update"');
  assert.equal(acl.check("other", "read").reason, 'no policy rule matches path "other"');
});

Deno.test("a root ACL ignores conditions", () => {
  const acl = new Acl([], { root: true });
  assert.equal(acl.check("secret/x", "read", true).allowed, true);
});

// --- the clock against Intl, independently ----------------------------------------------------

/** Wall-clock parts straight from a fresh Intl formatter, with none of the evaluator's caching. */
function wallClock(ms: number, tz: string): { minute: number; weekday: number; date: number } {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    hourCycle: "h23",
    weekday: "short",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
  }).formatToParts(ms);
  const get = (t: string) => parts.find((p) => p.type === t)!.value;
  return {
    minute: Number(get("hour")) * 60 + Number(get("minute")),
    weekday: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].indexOf(get("weekday")),
    date: Number(get("year")) * 10000 + Number(get("month")) * 100 + Number(get("day")),
  };
}

Deno.test("time conditions agree with Intl on 3,000 random instants and zones", () => {
  const zones = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/St_Johns",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "America/Santiago",
  ];
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
  const pad = (n: number) => String(n).padStart(2, "0");
  let allowed = 0;
  for (let i = 0; i < 3000; i++) {
    const tz = zones[Math.floor(rand() * zones.length)]!;
    // 2000 – 2040, often near a minute boundary to exercise the per-minute offset cache.
    const base = Date.UTC(2000, 0, 1) + Math.floor(rand() * 40 * 365) * 86_400_000;
    const ms = base + Math.floor(rand() * 86_400) * 1000 + (rand() < 0.3 ? 59_999 : 0);
    const start = Math.floor(rand() * 1440);
    let end = Math.floor(rand() * 1440);
    if (end === start) end = (end + 1) % 1440;
    const day = Math.floor(rand() * 7);
    const truth = wallClock(ms, tz);
    // "from" is the local date itself (inclusive: passes) or the next day (fails).
    const shift = rand() < 0.25 ? 1 : 0;
    const fromDate = new Date(
      Date.UTC(
        Math.floor(truth.date / 10000),
        (Math.floor(truth.date / 100) % 100) - 1,
        (truth.date % 100) + shift,
      ),
    );
    const from = fromDate.toISOString().slice(0, 10);
    const acl = aclWith(
      `time_of_day = "${pad(Math.floor(start / 60))}:${pad(start % 60)}-${
        pad(Math.floor(end / 60))
      }:${pad(end % 60)}"
days_of_week = ["${["sun", "mon", "tue", "wed", "thu", "fri", "sat"][day]}"]
date_range { from = "${from}" }
timezone = "${tz}"`,
    );
    const inWindow = start < end
      ? truth.minute >= start && truth.minute < end
      : truth.minute >= start || truth.minute < end;
    const expected = inWindow && truth.weekday === day && shift === 0;
    const got = acl.check("secret/x", "read", false, { now: ms });
    assert.equal(got.allowed, expected, `${new Date(ms).toISOString()} ${tz}: ${got.reason}`);
    if (expected) allowed++;
  }
  assert.ok(allowed > 50, `only ${allowed} allowed cases`);
});

Deno.test("each satisfied conditioned rule adds exactly its own capabilities", () => {
  const acl = new Acl([
    pol(
      `path "secret/*" {\n capabilities = ["read"]\n conditions { source_ip = ["10.0.0.0/8"] }\n}`,
    ),
    pol(`path "secret/*" {\n capabilities = ["list"]\n conditions { source_ip = ["::/0"] }\n}`),
    pol(`path "secret/*" {\n capabilities = ["delete"]\n conditions { max_ttl = "1h" }\n}`),
  ]);
  const v6: EvalContext = { now: 0, remoteAddress: "2001:db8::1", tokenTtl: 60 };
  const v4: EvalContext = { now: 0, remoteAddress: "10.0.0.1", tokenTtl: 0 };
  assert.deepEqual(acl.capabilities("secret/x", v6), ["delete", "list"]);
  assert.deepEqual(acl.capabilities("secret/x", v4), ["read"]);
  assert.equal(check(acl, "read", v6), false);
  assert.equal(check(acl, "list", v6), true);
  assert.equal(check(acl, "delete", v4), false);
  assert.equal(check(acl, "read", v4), true);
  // Again, now that the merged sets are cached per combination.
  assert.deepEqual(acl.capabilities("secret/x", v6), ["delete", "list"]);
  assert.deepEqual(acl.capabilities("secret/x", v4), ["read"]);
});

Deno.test("time conditions hold for distant instants and local-mean-time offsets", () => {
  // Tokyo kept local mean time (+09:18:59) before 1888; 12:00 UTC is 21:18:59 there, same day.
  for (const iso of ["-000100-03-15T12:00:00Z", "0050-06-01T12:00:00Z", "1850-06-01T12:00:00Z"]) {
    const now = Date.parse(iso);
    const day = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][new Date(now).getUTCDay()]!;
    const next = [
      "sun",
      "mon",
      "tue",
      "wed",
      "thu",
      "fri",
      "sat",
    ][(new Date(now).getUTCDay() + 1) % 7]!;
    const at = (conds: string) =>
      aclWith(`${conds}\ntimezone = "Asia/Tokyo"`).check("secret/x", "read", false, { now })
        .allowed;
    assert.equal(at(`days_of_week = ["${day}"]`), true, iso);
    assert.equal(at(`days_of_week = ["${next}"]`), false, iso);
    assert.equal(at(`time_of_day = "21:18-21:19"`), true, iso);
    assert.equal(at(`time_of_day = "21:19-21:20"`), false, iso);
  }
});

Deno.test("a deny merged with a grant under the same conditions stays conditioned", () => {
  const cond = `conditions { source_ip = ["10.0.0.0/8"] }`;
  const p = pol(`
path "secret/*" { capabilities = ["read"] }
path "secret/*" {\n capabilities = ["read", "list"]\n ${cond}\n}
path "secret/*" {\n capabilities = ["deny"]\n ${cond}\n}`);
  assert.deepEqual(JSON.parse(JSON.stringify(p.rules)), [
    { pattern: "secret/*", capabilities: ["read"] },
    {
      pattern: "secret/*",
      capabilities: ["deny"],
      conditions: { source_ip: ["10.0.0.0/8"] },
    },
  ]);
  const acl = new Acl([p]);
  assert.equal(check(acl, "read", INSIDE), false);
  assert.equal(check(acl, "read", OUTSIDE), true);
  assert.equal(check(acl, "list", OUTSIDE), false);
});
