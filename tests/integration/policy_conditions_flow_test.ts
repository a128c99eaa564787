import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";

/** Deterministic PRNG so a failing case can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const BASE = Date.parse("2026-03-02T00:00:00Z"); // a Monday

Deno.test("conditions deny by time, address and weekday on real requests; break-glass is alerted", async () => {
  const clock = { now: BASE + 10 * 3600_000 }; // Monday 10:00 UTC
  const hits: unknown[] = [];
  const hook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (r) => {
    hits.push(await r.json());
    return new Response("ok");
  });
  const t = await startTestCore({
    now: () => clock.now,
    trustedProxies: ["127.0.0.0/8"],
    alertWebhookUrl: `http://127.0.0.1:${hook.addr.port}/alert`,
  });
  try {
    await t.req("POST", "/v1/secret/data/office/doc", { data: { v: "1" } });
    let r = await t.req("PUT", "/v1/sys/policies/acl/office", {
      policy: `path "secret/data/office/*" {
        capabilities = ["read"]
        conditions {
          source_ip = ["10.0.0.0/8", "2001:db8::/32"]
          time_of_day = "09:00-17:00"
          days_of_week = ["mon", "tue", "wed", "thu", "fri"]
          timezone = "UTC"
        }
      }`,
    });
    assert.equal(r.status, 204, r.text);
    r = await t.req("PUT", "/v1/sys/policies/acl/bad", {
      policy: `path "x/*" { capabilities = ["read"] conditions { moon_phase = "full" } }`,
    });
    assert.equal(r.status, 400);
    const tok = (await t.req("POST", "/v1/auth/token/create", { policies: ["office"] })).body.auth
      .client_token;
    const read = (xff: string) =>
      t.req("GET", "/v1/secret/data/office/doc", undefined, tok, { "x-forwarded-for": xff });
    const first = await read("10.1.2.3");
    if (first.status !== 200) {
      const why = [...t.core.physical.auditRows()].filter((x) => x.entry.result === "denied").map((
        x,
      ) => x.entry.error);
      assert.fail(`first read ${first.status}: ${JSON.stringify(why)}`);
    }
    assert.equal((await read("2001:db8::7")).status, 200);
    assert.equal((await read("192.168.1.1")).status, 403);
    clock.now = BASE + 18 * 3600_000; // Monday 18:00
    assert.equal((await read("10.1.2.3")).status, 403);
    clock.now = BASE + 6 * 86400_000 + 10 * 3600_000; // Sunday 10:00
    assert.equal((await read("10.1.2.3")).status, 403);
    const denied = [...t.core.physical.auditRows()].filter((x) => x.entry.result === "denied");
    assert.ok(denied.some((x) => String(x.entry.error).includes("days_of_week")));

    // Simulator names the failed condition.
    r = await t.req("POST", "/v1/sys/policies/simulate", {
      policies: ["office"],
      path: "secret/data/office/doc",
      operation: "read",
      remote_address: "10.1.2.3",
      time: "2026-03-02T20:00:00Z",
    });
    assert.equal(r.body.data.allowed, false);
    assert.match(r.body.data.reason, /time_of_day/);

    // Templates: list, describe, instantiate; break-glass use is audited loudly and alerted.
    r = await t.req("GET", "/v1/sys/policy-templates");
    for (
      const n of [
        "business_hours",
        "ip_restricted",
        "read_only",
        "emergency_access",
        "dev_environment",
        "production_readonly",
        "time_limited",
        "multi_region",
      ]
    ) {
      assert.ok(r.body.data.keys.includes(n), n);
    }
    r = await t.req("GET", "/v1/sys/policy-templates/emergency_access");
    assert.ok(Array.isArray(r.body.data.parameters));
    const params = Object.fromEntries(
      (r.body.data.parameters as { name: string; required: boolean; type: string }[])
        .filter((p) => p.required)
        .map((p) => [p.name, p.type === "string_list" ? ["read"] : "secret/data/office/"]),
    );
    r = await t.req("POST", "/v1/sys/policy-templates/emergency_access", {
      name: "glass",
      parameters: params,
    });
    assert.equal(r.status, 200, r.text);
    clock.now = BASE + 10 * 3600_000;
    const g =
      (await t.req("POST", "/v1/auth/token/create", { policies: ["glass"], ttl: "30m" })).body.auth
        .client_token;
    r = await t.req("GET", "/v1/secret/data/office/doc", undefined, g, {
      "x-forwarded-for": "10.0.0.1",
    });
    assert.equal(r.status, 200, r.text);
    const alerted = [...t.core.physical.auditRows()].filter((x) => x.entry.alert === true);
    assert.ok(alerted.length >= 1);
    for (let i = 0; i < 50 && hits.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 20));
    }
    assert.equal((hits[0] as { event: string }).event, "break_glass_access");
    assert.equal(JSON.stringify(hits).includes(g), false);
  } finally {
    await t.close();
    await hook.shutdown();
  }
});

Deno.test("the simulator and real requests agree on 1,000 generated cases", async () => {
  const clock = { now: BASE };
  const t = await startTestCore({ now: () => clock.now, trustedProxies: ["127.0.0.0/8"] });
  const rand = rng(20261126);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  try {
    const leaves = ["a/x", "a/y", "b/x", "b/y"];
    for (const l of leaves) await t.req("POST", `/v1/secret/data/gen/${l}`, { data: { v: l } });
    const cidrs = ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32", "172.16.0.0/12"];
    const windows = ["09:00-17:00", "22:00-06:00", "00:00-12:00", "13:30-14:30"];
    const zones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"];
    const days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    const patterns = [
      "secret/data/gen/*",
      "secret/data/gen/a/*",
      "secret/data/gen/+/x",
      "secret/metadata/gen/*",
      "secret/data/gen/b/y",
    ];
    const caps = ["read", "list", "update", "delete", "create"];
    const tokens: { tok: string; name: string }[] = [];
    for (let p = 0; p < 12; p++) {
      const blocks: string[] = [];
      for (let b = 0; b < 3; b++) {
        const conds: string[] = [];
        if (rand() < 0.6) conds.push(`source_ip = ["${pick(cidrs)}", "${pick(cidrs)}"]`);
        if (rand() < 0.5) conds.push(`time_of_day = "${pick(windows)}"`);
        if (rand() < 0.4) {
          conds.push(`days_of_week = ["${pick(days)}", "${pick(days)}", "${pick(days)}"]`);
        }
        const timed = conds.some((c) =>
          c.startsWith("time_of_day") || c.startsWith("days_of_week")
        );
        if (timed && rand() < 0.5) conds.push(`timezone = "${pick(zones)}"`);
        if (rand() < 0.2) conds.push(`max_ttl = "${pick(["1h", "48h"])}"`);
        const capList = caps.filter(() => rand() < 0.5);
        if (rand() < 0.1) capList.splice(0, capList.length, "deny");
        if (capList.length === 0) capList.push("read");
        blocks.push(`path "${pick(patterns)}" {
  capabilities = [${capList.map((c) => `"${c}"`).join(", ")}]
  ${conds.length ? `conditions {\n    ${conds.join("\n    ")}\n  }` : ""}
}`);
      }
      const name = `gen${p}`;
      const w = await t.req("PUT", `/v1/sys/policies/acl/${name}`, { policy: blocks.join("\n") });
      assert.equal(w.status, 204, w.text);
      const tok = (await t.req("POST", "/v1/auth/token/create", {
        policies: [name],
        ttl: pick(["30m", "200h"]),
      })).body.auth.client_token;
      tokens.push({ tok, name });
    }
    const addrs = [
      "10.1.1.1",
      "192.168.5.5",
      "2001:db8::9",
      "172.20.0.1",
      "8.8.8.8",
      "2001:4860::1",
    ];
    const ops = ["read", "list", "update", "delete"] as const;
    let allowed = 0;
    let denied = 0;
    for (let i = 0; i < 1000; i++) {
      const { tok } = pick(tokens);
      const op = pick(ops);
      const leaf = pick(leaves);
      const addr = pick(addrs);
      // Random instants across a week; tokens live 30m or 24h, so expiry is exercised too.
      clock.now = BASE + Math.floor(rand() * 7 * 86400) * 1000;
      const time = new Date(clock.now).toISOString();
      const folder = leaf.split("/")[0]!;
      const path = op === "list" ? `secret/metadata/gen/${folder}/` : `secret/data/gen/${leaf}`;
      const sim = await t.req("POST", "/v1/sys/policies/simulate", {
        token: tok,
        path,
        operation: op,
        remote_address: addr,
        time,
      });
      let real;
      const h = { "x-forwarded-for": addr };
      if (op === "read") real = await t.req("GET", `/v1/${path}`, undefined, tok, h);
      else if (op === "list") real = await t.req("LIST", `/v1/${path}`, undefined, tok, h);
      else if (op === "delete") real = await t.req("DELETE", `/v1/${path}`, undefined, tok, h);
      else real = await t.req("POST", `/v1/${path}`, { data: { v: String(i) } }, tok, h);
      if (sim.status !== 200) {
        // The token itself expired at this instant: both sides must refuse.
        assert.equal(real.status, 403, `case ${i}: simulate ${sim.status}`);
        denied++;
        continue;
      }
      const realAllowed = real.status !== 403;
      assert.equal(
        realAllowed,
        sim.body.data.allowed,
        `case ${i}: ${op} ${path} @${time} from ${addr}: sim=${
          JSON.stringify(sim.body.data)
        } real=${real.status}`,
      );
      if (realAllowed) allowed++;
      else denied++;
      if (op === "delete" && realAllowed) {
        await t.req("POST", `/v1/secret/undelete/gen/${leaf}`, { versions: [1, 2, 3] });
      }
    }
    assert.ok(allowed > 50 && denied > 50, `allowed=${allowed} denied=${denied}`);
  } finally {
    await t.close();
  }
});
