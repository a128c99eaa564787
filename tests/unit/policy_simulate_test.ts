import assert from "node:assert/strict";
import { Acl } from "../../core/policy/acl.ts";
import { parsePolicy } from "../../core/policy/parse.ts";
import { parseSimulationTime, simulate } from "../../core/policy/simulate.ts";
import { BadRequest } from "../../lib/errors.ts";
import type { EvalContext, Operation } from "../../core/policy/types.ts";

const ACL = new Acl([
  parsePolicy(
    "app",
    `
path "secret/data/app/*" {
  capabilities = ["read", "list"]
  conditions {
    source_ip = ["10.0.0.0/8", "2001:db8::/32"]
    time_of_day = "09:00-17:00"
    timezone = "Europe/Berlin"
  }
}
path "secret/data/app/admin" { capabilities = ["deny"] }
path "secret/data/open/*" { capabilities = ["read"] }
`,
  ),
]);

// 2025-01-15 10:00 in Berlin.
const WORK = "2025-01-15T09:00:00Z";

Deno.test("simulate() reports allowed with the matched path and capabilities", () => {
  assert.deepEqual(
    simulate(ACL, {
      path: "secret/data/app/db",
      operation: "read",
      remoteAddress: "10.1.1.1",
      time: WORK,
    }),
    {
      allowed: true,
      matched_path: "secret/data/app/*",
      capabilities: ["read", "list"],
      reason: "allowed",
    },
  );
});

Deno.test("simulate() names the failed condition", () => {
  const r = simulate(ACL, {
    path: "secret/data/app/db",
    operation: "read",
    remoteAddress: "10.1.1.1",
    time: "2025-01-15T17:30:00+01:00",
  });
  assert.equal(r.allowed, false);
  assert.equal(r.matched_path, "secret/data/app/*");
  assert.equal(r.reason, 'condition "time_of_day" not satisfied (09:00-17:00 Europe/Berlin)');
});

Deno.test("simulate() explains each kind of denial", () => {
  const cases: { path: string; op: Operation; addr?: string; reason: RegExp }[] = [
    { path: "nothing/here", op: "read", reason: /^no policy rule matches path "nothing\/here"$/ },
    { path: "secret/data/open/x", op: "update", reason: /does not grant "update"/ },
    { path: "secret/data/app/admin", op: "read", reason: /^denied by rule/ },
    { path: "secret/data/app/db", op: "read", addr: "192.0.2.1", reason: /"source_ip" not sat/ },
    { path: "secret/data/app/db", op: "read", reason: /"source_ip" cannot be evaluated/ },
  ];
  for (const c of cases) {
    const r = simulate(ACL, { path: c.path, operation: c.op, remoteAddress: c.addr, time: WORK });
    assert.equal(r.allowed, false, c.path);
    assert.match(r.reason, c.reason);
  }
});

Deno.test("simulate() uses the given clock when no time is given", () => {
  const input = {
    path: "secret/data/app/x",
    operation: "read" as const,
    remoteAddress: "10.0.0.1",
  };
  assert.equal(simulate(ACL, input, Date.parse(WORK)).allowed, true);
  assert.equal(simulate(ACL, input, Date.parse("2025-01-15T22:00:00Z")).allowed, false);
});

Deno.test("simulate() rejects bad input with 400", () => {
  const bad: Record<string, unknown>[] = [
    { path: "secret/x", operation: "sudo" },
    { path: "secret/x", operation: "write" },
    { path: "", operation: "read" },
    { path: "secret/x", operation: "read", time: "yesterday" },
    { path: "secret/x", operation: "read", time: "2025-02-30T00:00:00Z" },
    { path: "secret/x", operation: "read", time: "1700000000" },
    { path: "secret/x", operation: "read", tokenTtl: -1 },
    { path: "secret/x", operation: "read", tokenTtl: "1h" },
    { path: "secret/x", operation: "read", remoteAddress: 10 },
  ];
  for (const input of bad) {
    assert.throws(
      () => simulate(ACL, input as never),
      (e: unknown) => e instanceof BadRequest && e.status === 400,
      JSON.stringify(input),
    );
  }
});

Deno.test("parseSimulationTime() reads offsets and takes an offset-less time as UTC", () => {
  assert.equal(parseSimulationTime("2025-01-15T10:00:00+01:00"), Date.parse(WORK));
  assert.equal(parseSimulationTime("2025-01-15T09:00:00"), Date.parse(WORK));
  assert.equal(parseSimulationTime("2025-01-15 09:00"), Date.parse(WORK));
  assert.equal(parseSimulationTime("2025-01-15"), Date.UTC(2025, 0, 15));
});

// --- agreement on random cases ----------------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const PATTERNS = [
  "secret/*",
  "secret/data/*",
  "secret/data/app/*",
  "secret/data/app/+/config",
  "secret/data/app/db",
  "secret/data/+/db",
  "kv/+/x*",
  "*",
];
const PATHS = [
  "secret/data/app/db",
  "secret/data/app/web/config",
  "secret/data/other/db",
  "secret/metadata/app/",
  "secret/",
  "kv/a/xyz",
  "kv/a/b/xyz",
  "sys/mounts",
];
const OPS: Operation[] = ["read", "create", "update", "patch", "delete", "list"];
const CAPS = ["create", "read", "update", "patch", "delete", "list", "sudo"];
const ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const CIDRS = ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32", "fd00::/8", "203.0.113.7"];
const ADDRESSES = [
  "10.1.2.3",
  "192.168.9.9",
  "203.0.113.7",
  "198.51.100.1",
  "2001:db8::1",
  "fd12::5",
  "2001:db9::1",
  "::ffff:10.0.0.1",
  "garbage",
  "",
  undefined,
];
const OFFSETS = ["Z", "+00:00", "+02:00", "-05:00", "+05:30"];

Deno.test("simulate() agrees with Acl.check on 1,500 random (policy, path, op, time, address)", () => {
  const rand = mulberry32(20250615);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const pad = (n: number) => String(n).padStart(2, "0");
  const some = <T>(xs: readonly T[], max: number): T[] => {
    const n = 1 + Math.floor(rand() * max);
    return [...new Set(Array.from({ length: n }, () => pick(xs)))];
  };

  function randomConditions(): string {
    const lines: string[] = [];
    let clock = false;
    if (rand() < 0.4) lines.push(`source_ip = ${JSON.stringify(some(CIDRS, 3))}`);
    if (rand() < 0.35) {
      const s = Math.floor(rand() * 24);
      let e = Math.floor(rand() * 24);
      if (e === s) e = (e + 8) % 24;
      lines.push(`time_of_day = "${pad(s)}:00-${pad(e)}:${rand() < 0.5 ? "00" : "30"}"`);
      clock = true;
    }
    if (rand() < 0.25) {
      lines.push(`days_of_week = ${JSON.stringify(some(DAYS, 5))}`);
      clock = true;
    }
    if (rand() < 0.2) {
      const from = rand() < 0.7 ? `from = "2025-0${1 + Math.floor(rand() * 6)}-01"` : "";
      const to = rand() < 0.7 || !from ? `to = "2025-${pad(6 + Math.floor(rand() * 6))}-15"` : "";
      lines.push(`date_range {\n${from}\n${to}\n}`);
      clock = true;
    }
    if (clock && rand() < 0.6) lines.push(`timezone = "${pick(ZONES)}"`);
    if (rand() < 0.2) lines.push(`max_ttl = "${pick(["30m", "1h", "2h"])}"`);
    return lines.length ? `conditions {\n${lines.join("\n")}\n}` : "";
  }

  function randomPolicy(n: number): string {
    const blocks: string[] = [];
    const rules = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < rules; i++) {
      const caps = rand() < 0.12 ? ["deny"] : some(CAPS, 4);
      blocks.push(
        `path "${pick(PATTERNS)}" {\ncapabilities = ${JSON.stringify(caps)}\n${
          rand() < 0.6 ? randomConditions() : ""
        }\n}`,
      );
    }
    return `# policy ${n}\n${blocks.join("\n")}`;
  }

  let allowed = 0;
  let denied = 0;
  let conditionDenied = 0;
  let conditionAllowed = 0;
  const CASES = 1500;
  for (let i = 0; i < CASES; i++) {
    const policies = Array.from(
      { length: 1 + Math.floor(rand() * 3) },
      (_, j) => parsePolicy(`p${j}`, randomPolicy(j)),
    );
    const acl = new Acl(policies);
    const hasConditions = policies.some((p) => p.rules.some((r) => r.conditions));
    const path = pick(PATHS);
    const operation = pick(OPS);
    const remoteAddress = pick(ADDRESSES);
    const tokenTtl = pick([undefined, 0, 600, 3600, 5400]);
    const needSudo = rand() < 0.1;
    const month = 1 + Math.floor(rand() * 12);
    const time = `2025-${pad(month)}-${pad(1 + Math.floor(rand() * 28))}T${
      pad(Math.floor(rand() * 24))
    }:${pad(Math.floor(rand() * 60))}:${pad(Math.floor(rand() * 60))}${pick(OFFSETS)}`;

    const sim = simulate(acl, { path, operation, remoteAddress, time, tokenTtl, needSudo });
    const ctx: EvalContext = { now: Date.parse(time), remoteAddress, tokenTtl };
    const real = acl.check(path, operation, needSudo, ctx);
    const where = `case ${i}: ${operation} ${path} at ${time} from ${remoteAddress}`;
    assert.equal(sim.allowed, real.allowed, where);
    assert.equal(sim.matched_path, real.matchedPath, where);
    assert.deepEqual(sim.capabilities, real.capabilities, where);
    assert.equal(sim.reason, real.allowed ? "allowed" : real.reason, where);
    assert.ok(sim.reason.length > 0, where);

    if (real.allowed) {
      allowed++;
      if (hasConditions && real.matchedPath !== null) conditionAllowed++;
    } else {
      denied++;
      if (/condition/.test(real.reason ?? "")) conditionDenied++;
    }
  }
  assert.equal(allowed + denied, CASES);
  assert.ok(allowed >= 100, `only ${allowed} allowed`);
  assert.ok(denied >= 100, `only ${denied} denied`);
  assert.ok(conditionDenied >= 50, `only ${conditionDenied} denials by a condition`);
  assert.ok(conditionAllowed >= 50, `only ${conditionAllowed} allowed under conditions`);
});

Deno.test("simulate() applies parameter rules and wrapping bounds as the request path does", () => {
  const acl = new Acl([
    parsePolicy(
      "p",
      `
path "secret/data/v1" {
  capabilities = ["read", "update", "delete"]
  denied_parameters = { "version" = [] }
}
path "auth/token/create" {
  capabilities = ["update"]
  allowed_parameters = { "ttl" = ["1h"] }
  max_wrapping_ttl = "5m"
}
`,
    ),
  ]);
  const sim = (o: Partial<Parameters<typeof simulate>[1]>) =>
    simulate(acl, { path: "secret/data/v1", operation: "read", ...o });
  assert.equal(sim({}).allowed, true);
  const old = sim({ data: { version: "1" } });
  assert.equal(old.allowed, false);
  assert.match(old.reason, /version/);
  // Not on deletes, as the request path has it.
  assert.equal(sim({ operation: "delete", data: { version: "1" } }).allowed, true);
  const create = (data: Record<string, unknown>, wrapTtl?: number) =>
    simulate(acl, { path: "auth/token/create", operation: "update", data, wrapTtl });
  // A wrapping bound makes wrapping required, as in Vault.
  assert.match(create({ ttl: "1h" }).reason, /wrapping is required/);
  assert.equal(create({ ttl: "1h" }, 60).allowed, true);
  assert.equal(create({ ttl: "2h" }, 60).allowed, false);
  assert.equal(create({ ttl: "1h" }, 600).allowed, false, "wrap TTL above max_wrapping_ttl");
  assert.match(create({ ttl: "1h" }, 600).reason, /maximum/);
});
