import assert from "node:assert/strict";
import { startTestCore, type TestCore } from "../helpers/test_core.ts";
import { METRIC_HELP } from "../../core/metrics.ts";
import { checkExposition } from "../helpers/prometheus.ts";

Deno.test("policy parameter rules are enforced on writes", async () => {
  const t = await startTestCore();
  try {
    await t.req("PUT", "/v1/sys/policies/acl/p", {
      policy: `path "auth/token/create" {
        capabilities = ["update"]
        denied_parameters = { "no_parent" = [] }
      }`,
    });
    const tok =
      (await t.req("POST", "/v1/auth/token/create", { policies: ["p"] })).body.auth.client_token;
    assert.equal(
      (await t.req("POST", "/v1/auth/token/create", { policies: ["p"] }, tok)).status,
      200,
    );
    const r = await t.req(
      "POST",
      "/v1/auth/token/create",
      { policies: ["p"], no_parent: true },
      tok,
    );
    assert.equal(r.status, 403);
    assert.match(r.body.errors.join(" "), /no_parent/);
  } finally {
    await t.close();
  }
});

Deno.test("policy parameter rules apply to reads too: a denied ?version keeps old KV versions out", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secret/data/v1", { data: { pw: "old" } });
    await t.req("POST", "/v1/secret/data/v1", { data: { pw: "new" } });
    await t.req("PUT", "/v1/sys/policies/acl/latest-only", {
      policy: `path "secret/data/v1" {
        capabilities = ["read"]
        denied_parameters = { "version" = [] }
      }
      path "secret/data/req" {
        capabilities = ["read"]
        required_parameters = ["version"]
      }`,
    });
    const tok = (await t.req("POST", "/v1/auth/token/create", { policies: ["latest-only"] })).body
      .auth.client_token;
    let r = await t.req("GET", "/v1/secret/data/v1", undefined, tok);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.data.pw, "new");
    r = await t.req("GET", "/v1/secret/data/v1?version=1", undefined, tok);
    assert.equal(r.status, 403, r.text);
    assert.match(r.body.errors.join(" "), /version/);
    // The simulator agrees, given the same data.
    const sim = (data: Record<string, unknown>) =>
      t.req("POST", "/v1/sys/policies/simulate", {
        policies: ["latest-only"],
        path: "secret/data/v1",
        operation: "read",
        data,
      });
    assert.equal((await sim({})).body.data.allowed, true);
    const simOld = await sim({ version: "1" });
    assert.equal(simOld.body.data.allowed, false, simOld.text);
    assert.match(simOld.body.data.reason, /version/);
    await t.req("POST", "/v1/secret/data/req", { data: { pw: "x" } });
    assert.equal((await t.req("GET", "/v1/secret/data/req", undefined, tok)).status, 403);
    assert.equal((await t.req("GET", "/v1/secret/data/req?version=1", undefined, tok)).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test("sys/policy lists policies on GET and on LIST, as Vault's policy/?$ does", async () => {
  const t = await startTestCore();
  try {
    await t.req("PUT", "/v1/sys/policy/reader", { policy: `path "x" { capabilities = ["read"] }` });
    for (
      const [method, path] of [
        ["GET", "/v1/sys/policy"],
        ["LIST", "/v1/sys/policy"],
        ["GET", "/v1/sys/policy/"],
      ]
    ) {
      const r = await t.req(method!, path!);
      assert.equal(r.status, 200, `${method}: ${r.text}`);
      assert.deepEqual(r.body.data.keys, ["default", "reader", "root"]);
      assert.deepEqual(r.body.policies, ["default", "reader", "root"]);
    }
  } finally {
    await t.close();
  }
});

Deno.test("sys/mounts: enable, list, tune, read through, disable removes the data", async () => {
  const t = await startTestCore();
  try {
    let r = await t.req("POST", "/v1/sys/mounts/team-a", {
      type: "kv",
      options: { version: "2" },
      description: "team A",
    });
    assert.equal(r.status, 204);
    r = await t.req("POST", "/v1/sys/mounts/team-a", { type: "kv-v2" });
    assert.equal(r.status, 409);
    r = await t.req("POST", "/v1/sys/mounts/sys2/x", { type: "nope" });
    assert.equal(r.status, 400);
    r = await t.req("GET", "/v1/sys/mounts");
    assert.equal(r.body.data["team-a/"].type, "kv");
    assert.equal(r.body.data["team-a/"].options.version, "2");
    assert.equal(r.body["secret/"].type, "kv"); // top-level injection, as Vault does
    r = await t.req("GET", "/v1/sys/internal/ui/mounts/team-a/some/secret");
    assert.equal(r.body.data.path, "team-a/");
    assert.equal(r.body.data.options.version, "2");
    await t.req("POST", "/v1/team-a/data/x", { data: { v: "1" } });
    assert.equal((await t.req("GET", "/v1/team-a/data/x")).body.data.data.v, "1");
    assert.equal((await t.req("GET", "/v1/secret/data/x")).status, 404); // mounts are isolated
    r = await t.req("POST", "/v1/sys/mounts/team-a/tune", {
      default_lease_ttl: "1h",
      description: "A",
    });
    assert.equal(r.status, 204);
    r = await t.req("GET", "/v1/sys/mounts/team-a/tune");
    assert.equal(r.body.data.default_lease_ttl, 3600);
    assert.equal((await t.req("DELETE", "/v1/sys/mounts/team-a")).status, 204);
    assert.equal((await t.req("GET", "/v1/team-a/data/x")).status, 404);
    const keys = await t.core.physical.keys("logical/");
    assert.ok(keys.every((k) => !k.includes("team-a")));
    // The mount table survives a seal/unseal.
    await t.req("POST", "/v1/sys/mounts/team-b", { type: "kv" });
    await t.req("PUT", "/v1/sys/seal");
    await t.req("PUT", "/v1/sys/unseal", { key: t.unsealKeys[0] }, null);
    assert.equal((await t.req("GET", "/v1/sys/mounts")).body.data["team-b/"].type, "kv");
  } finally {
    await t.close();
  }
});

async function tokenWith(t: TestCore, policy: string): Promise<string> {
  const name = `p-${crypto.randomUUID().slice(0, 8)}`;
  assert.equal((await t.req("PUT", `/v1/sys/policies/acl/${name}`, { policy })).status, 204);
  const r = await t.req("POST", "/v1/auth/token/create", { policies: [name] });
  assert.equal(r.status, 200, r.text);
  return r.body.auth.client_token;
}

async function simulate(t: TestCore, tok: string, path: string, operation: string) {
  const r = await t.req("POST", "/v1/sys/policies/simulate", { token: tok, path, operation });
  assert.equal(r.status, 200, r.text);
  return r.body.data;
}

Deno.test("sys/mounts needs no sudo (as in Vault); sys/auth does; simulate and capabilities agree with enforcement", async () => {
  const t = await startTestCore();
  try {
    // Vault's sys backend root paths include "auth/*" and "audit/*" but not "mounts/*".
    const crud = `capabilities = ["create", "read", "update", "delete"]`;
    const tok = await tokenWith(
      t,
      `path "sys/mounts/*" { ${crud} }\npath "sys/auth/*" { ${crud} }`,
    );

    // Allowed: simulate, capabilities-self and the real requests say the same.
    let sim = await simulate(t, tok, "sys/mounts/nsm", "update");
    assert.equal(sim.allowed, true, sim.reason);
    assert.equal(sim.sudo_required, false);
    const caps = await t.req(
      "POST",
      "/v1/sys/capabilities-self",
      { paths: ["sys/mounts/nsm"] },
      tok,
    );
    assert.deepEqual(caps.body.data["sys/mounts/nsm"], ["create", "delete", "read", "update"]);
    let r = await t.req("POST", "/v1/sys/mounts/nsm", { type: "kv" }, tok);
    assert.equal(r.status, 204, r.text);
    assert.equal((await t.req("GET", "/v1/sys/mounts/nsm", undefined, tok)).status, 200);
    r = await t.req("POST", "/v1/sys/mounts/nsm/tune", { description: "x" }, tok);
    assert.equal(r.status, 204, r.text);
    assert.equal((await simulate(t, tok, "sys/mounts/nsm", "delete")).allowed, true);
    assert.equal((await t.req("DELETE", "/v1/sys/mounts/nsm", undefined, tok)).status, 204);

    // Denied: sys/auth/* is root-protected, so the same grant without sudo is not enough, and
    // the simulator says so (it used to answer allowed: true here).
    sim = await simulate(t, tok, "sys/auth/up", "update");
    assert.equal(sim.allowed, false);
    assert.equal(sim.sudo_required, true);
    assert.match(sim.reason, /sudo/);
    r = await t.req("POST", "/v1/sys/auth/up", { type: "userpass" }, tok);
    assert.equal(r.status, 403);
    // With sudo it goes through, and the simulator agrees.
    const sudoTok = await tokenWith(
      t,
      `path "sys/auth/*" { capabilities = ["create", "read", "update", "delete", "sudo"] }`,
    );
    assert.equal((await simulate(t, sudoTok, "sys/auth/up", "update")).allowed, true);
    r = await t.req("POST", "/v1/sys/auth/up", { type: "userpass" }, sudoTok);
    assert.equal(r.status, 204, r.text);

    // Denied: a read-only grant cannot mount, and the simulator agrees.
    const ro = await tokenWith(t, `path "sys/mounts/*" { capabilities = ["read"] }`);
    sim = await simulate(t, ro, "sys/mounts/nsm2", "update");
    assert.equal(sim.allowed, false);
    assert.equal(sim.sudo_required, false);
    assert.equal((await t.req("POST", "/v1/sys/mounts/nsm2", { type: "kv" }, ro)).status, 403);
    assert.equal((await t.req("GET", "/v1/sys/mounts/nsm2")).status, 400);
  } finally {
    await t.close();
  }
});

Deno.test("sys/mounts: an unsupported KV version is a 400 naming the supported one, on enable and tune", async () => {
  const t = await startTestCore();
  try {
    for (const version of ["3", "0", "v2", "1"]) {
      const r = await t.req("POST", "/v1/sys/mounts/x", { type: "kv", options: { version } });
      assert.equal(r.status, 400, `version ${version}: ${r.text}`);
      const msg = r.body.errors.join(" ");
      assert.match(msg, /KV version 1 is not supported/, msg);
      if (version !== "1") assert.match(msg, /supported: "2"/, msg);
    }
    assert.equal((await t.req("POST", "/v1/sys/mounts/x", { type: "kv-v1" })).status, 400);
    assert.equal((await t.req("GET", "/v1/sys/mounts")).body.data["x/"], undefined);
    // No version, "2" and kv-v2 all mount KV v2.
    assert.equal((await t.req("POST", "/v1/sys/mounts/x", { type: "kv" })).status, 204);
    let r = await t.req("POST", "/v1/sys/mounts/y", { type: "kv", options: { version: "2" } });
    assert.equal(r.status, 204);

    // Tune: the version of a KV mount cannot change (it used to be ignored with a 204).
    r = await t.req("POST", "/v1/sys/mounts/x/tune", { options: { version: "1" } });
    assert.equal(r.status, 400);
    assert.match(r.body.errors.join(" "), /cannot change the KV version.*KV version 1 is not/);
    r = await t.req("POST", "/v1/sys/mounts/x/tune", { options: { version: "3" } });
    assert.equal(r.status, 400);
    assert.match(r.body.errors.join(" "), /unsupported KV version "3"; supported: "2"/);
    assert.equal(
      (await t.req("POST", "/v1/sys/mounts/x/tune", { options: { version: "" } })).status,
      400,
    );
    // The same version is a no-op; other options are merged as in Vault ("" removes one).
    r = await t.req("POST", "/v1/sys/mounts/x/tune", { options: { version: "2", team: "a" } });
    assert.equal(r.status, 204, r.text);
    assert.deepEqual((await t.req("GET", "/v1/sys/mounts/x/tune")).body.data.options, {
      version: "2",
      team: "a",
    });
    await t.req("POST", "/v1/sys/mounts/x/tune", { options: { team: "" } });
    assert.deepEqual((await t.req("GET", "/v1/sys/mounts/x/tune")).body.data.options, {
      version: "2",
    });
    // A failed tune changes nothing else it was given either.
    r = await t.req("POST", "/v1/sys/mounts/x/tune", {
      description: "new",
      options: { version: "1" },
    });
    assert.equal(r.status, 400);
    assert.equal((await t.req("GET", "/v1/sys/mounts/x/tune")).body.data.description, "");
    // Only KV mounts have a version.
    await t.req("POST", "/v1/sys/mounts/pki", { type: "pki" });
    r = await t.req("POST", "/v1/sys/mounts/pki/tune", { options: { version: "2" } });
    assert.equal(r.status, 400);
    // The mount still serves KV v2.
    assert.equal((await t.req("POST", "/v1/x/data/a", { data: { v: "1" } })).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test("sys/mounts: options are decoded weakly as Vault's TypeKVPairs, on enable and tune", async () => {
  const t = await startTestCore();
  try {
    let r = await t.req("POST", "/v1/sys/mounts/numopt", { type: "kv", options: { version: 2 } });
    assert.equal(r.status, 204, r.text);
    assert.deepEqual((await t.req("GET", "/v1/sys/mounts/numopt")).body.data.options, {
      version: "2",
    });
    assert.equal((await t.req("POST", "/v1/numopt/data/a", { data: { v: 1 } })).status, 200);
    r = await t.req("POST", "/v1/sys/mounts/numopt/tune", {
      options: { version: 2, team: 7, on: true, off: false },
    });
    assert.equal(r.status, 204, r.text);
    assert.deepEqual((await t.req("GET", "/v1/sys/mounts/numopt/tune")).body.data.options, {
      version: "2",
      team: "7",
      on: "1",
      off: "0",
    });
    // Values that are not scalars stay a 400 on both.
    for (const bad of [{ x: { y: "z" } }, { x: ["a"] }, { x: null }, ["a"], 5]) {
      r = await t.req("POST", "/v1/sys/mounts/badopt", { type: "kv", options: bad });
      assert.equal(r.status, 400, `enable ${JSON.stringify(bad)}: ${r.text}`);
      r = await t.req("POST", "/v1/sys/mounts/numopt/tune", { options: bad });
      assert.equal(r.status, 400, `tune ${JSON.stringify(bad)}: ${r.text}`);
    }
    assert.equal((await t.req("GET", "/v1/sys/mounts/badopt")).status, 400);
  } finally {
    await t.close();
  }
});

Deno.test("sys/mounts: a default lease TTL larger than the max (the mount's or the system's) is a 400, on enable and tune", async () => {
  const t = await startTestCore();
  try {
    const tune = async () => (await t.req("GET", "/v1/sys/mounts/kv1/tune")).body.data;
    let r = await t.req("POST", "/v1/sys/mounts/kv1", {
      type: "kv",
      config: { max_lease_ttl: "1h", default_lease_ttl: "2h" },
    });
    assert.equal(r.status, 400);
    assert.match(
      r.body.errors.join(" "),
      /default lease TTL .*cannot be larger than max lease TTL/,
    );
    // No mount max: the system max (768h) is the limit.
    r = await t.req("POST", "/v1/sys/mounts/kv1", {
      type: "kv",
      config: { default_lease_ttl: "769h" },
    });
    assert.equal(r.status, 400);
    assert.match(r.body.errors.join(" "), /system max lease TTL \(2764800s\)/);
    assert.equal((await t.req("GET", "/v1/sys/mounts")).body.data["kv1/"], undefined);

    r = await t.req("POST", "/v1/sys/mounts/kv1", {
      type: "kv",
      config: { max_lease_ttl: "2h", default_lease_ttl: "1h" },
    });
    assert.equal(r.status, 204, r.text);
    assert.equal((await tune()).default_lease_ttl, 3600);

    // Tune: both given, or one given against the stored other; nothing is stored on a 400.
    for (
      const body of [
        { max_lease_ttl: "1h", default_lease_ttl: "2h" },
        { max_lease_ttl: "30m" },
        { default_lease_ttl: "3h" },
        { max_lease_ttl: 0, default_lease_ttl: "769h" },
      ]
    ) {
      r = await t.req("POST", "/v1/sys/mounts/kv1/tune", body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(r.body.errors.join(" "), /default lease TTL .*cannot be larger than/);
      const now = await tune();
      assert.equal(now.default_lease_ttl, 3600);
      assert.equal(now.max_lease_ttl, 7200);
    }
    // Equal is fine, and so is lowering both at once.
    r = await t.req("POST", "/v1/sys/mounts/kv1/tune", { default_lease_ttl: "2h" });
    assert.equal(r.status, 204, r.text);
    r = await t.req("POST", "/v1/sys/mounts/kv1/tune", {
      max_lease_ttl: "30m",
      default_lease_ttl: "10m",
    });
    assert.equal(r.status, 204, r.text);
    assert.deepEqual([(await tune()).default_lease_ttl, (await tune()).max_lease_ttl], [600, 1800]);
  } finally {
    await t.close();
  }
});

Deno.test("sys/mounts: concurrent enables, disables and tunes all take effect (none undoes another)", async () => {
  const t = await startTestCore();
  try {
    const mounts = async () => (await t.req("GET", "/v1/sys/mounts")).body.data;
    const enabled = await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) => t.req("POST", `/v1/sys/mounts/race${i}`, { type: "kv-v2" }),
      ),
    );
    assert.deepEqual(enabled.map((r) => r.status), Array(10).fill(204));
    let m = await mounts();
    for (let i = 0; i < 10; i++) {
      assert.ok(m[`race${i}/`], `race${i}/ is mounted`);
      const w = await t.req("POST", `/v1/race${i}/data/x`, { data: { a: i } });
      assert.equal(w.status, 200, w.text);
    }
    // The same path enabled five times at once: one wins, the others are told it is in use.
    const dup = await Promise.all(
      Array.from({ length: 5 }, () => t.req("POST", "/v1/sys/mounts/dup", { type: "kv-v2" })),
    );
    assert.deepEqual(dup.map((r) => r.status).sort(), [204, 409, 409, 409, 409]);
    // Disables racing tunes: every disable sticks (no mount comes back without its engine) and
    // every tune lands.
    const mixed = await Promise.all(
      Array.from({ length: 5 }, (_, i) => [
        t.req("DELETE", `/v1/sys/mounts/race${i}`),
        t.req("POST", `/v1/sys/mounts/race${i + 5}/tune`, { description: `tuned ${i + 5}` }),
      ]).flat(),
    );
    assert.ok(mixed.every((r) => r.status === 204), mixed.map((r) => r.status).join());
    m = await mounts();
    for (let i = 0; i < 5; i++) {
      assert.equal(m[`race${i}/`], undefined, `race${i}/ stays unmounted`);
      const r = await t.req("GET", `/v1/race${i}/data/x`);
      assert.equal(r.status, 404, r.text);
      assert.equal(m[`race${i + 5}/`].description, `tuned ${i + 5}`);
      const k = await t.req("GET", `/v1/race${i + 5}/data/x`);
      assert.equal(k.body.data.data.a, i + 5);
    }
  } finally {
    await t.close();
  }
});

Deno.test("sys/auth: concurrent enables, disables and tunes all take effect", async () => {
  const t = await startTestCore();
  try {
    const on = await Promise.all(
      Array.from(
        { length: 8 },
        (_, i) => t.req("POST", `/v1/sys/auth/ar${i}`, { type: "approle" }),
      ),
    );
    assert.deepEqual(on.map((r) => r.status), Array(8).fill(204));
    const off = await Promise.all([
      ...[0, 1, 2, 3].map((i) => t.req("DELETE", `/v1/sys/auth/ar${i}`)),
      ...[4, 5, 6, 7].map((i) =>
        t.req("POST", `/v1/sys/auth/ar${i}/tune`, { description: `d${i}` })
      ),
    ]);
    assert.ok(off.every((r) => r.status === 204), off.map((r) => r.status).join());
    const auth = (await t.req("GET", "/v1/sys/auth")).body.data;
    for (let i = 0; i < 4; i++) assert.equal(auth[`ar${i}/`], undefined, `ar${i}/ stays disabled`);
    for (let i = 4; i < 8; i++) assert.equal(auth[`ar${i}/`]?.description, `d${i}`);
  } finally {
    await t.close();
  }
});

Deno.test("sys/metrics serves Prometheus text that counts requests", async () => {
  const t = await startTestCore();
  try {
    await t.req("GET", "/v1/secret/data/none");
    await t.req("GET", "/v1/secret/data/none");
    // Methods nobody serves share one label, so clients cannot grow the series without bound.
    for (const m of ["FOO", "BAR"]) {
      assert.equal((await fetch(`${t.url}/v1/secret/data/x`, { method: m })).status, 405);
    }
    const r = await fetch(`${t.url}/v1/sys/metrics?format=prometheus`, {
      headers: { "x-vault-token": t.rootToken },
    });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /text\/plain/);
    const text = await r.text();
    assert.match(text, /secrethub_core_unsealed 1/);
    assert.match(
      text,
      /secrethub_http_requests_total\{method="GET",route="kv:data\/:path\+",status="404"\} 2/,
    );
    assert.match(
      text,
      /secrethub_http_requests_total\{method="OTHER",route="[^"]*",status="405"\} 2/,
    );
    assert.doesNotMatch(text, /method="FOO"/);
    assert.match(text, /secrethub_http_request_duration_seconds_bucket/);
    // Every metric the server exports is described (HELP) and typed; a _total is a counter.
    const families = checkExposition(text);
    for (const name of Object.keys(METRIC_HELP)) assert.ok(families.has(name), name);
    assert.equal(families.get("secrethub_audit_log_failures_total")?.type, "counter");
    const j = await t.req("GET", "/v1/sys/metrics");
    assert.ok(Array.isArray(j.body.Gauges));
    // Labels are objects everywhere, as in go-metrics' DisplayMetrics.
    const req = j.body.Counters.find((c: { Name: string }) => c.Name === "secrethub.http.requests");
    assert.equal(typeof req.Labels, "object");
    assert.deepEqual(Object.keys(req.Labels).sort(), ["method", "route", "status"]);
    // Metrics need a token with access.
    assert.equal(
      (await t.req("GET", "/v1/sys/metrics?format=prometheus", undefined, null)).status,
      403,
    );
  } finally {
    await t.close();
  }
});

Deno.test("LIST verb and ?list=true both list; an empty list is 404", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secret/data/l/a", { data: { v: "1" } });
    await t.req("POST", "/v1/secret/data/l/b/c", { data: { v: "1" } });
    assert.deepEqual((await t.req("LIST", "/v1/secret/metadata/l")).body.data.keys, ["a", "b/"]);
    assert.deepEqual((await t.req("GET", "/v1/secret/metadata/l?list=true")).body.data.keys, [
      "a",
      "b/",
    ]);
    assert.equal((await t.req("LIST", "/v1/secret/metadata/empty")).status, 404);
    assert.deepEqual((await t.req("LIST", "/v1/sys/policies/acl")).body.data.keys, [
      "default",
      "root",
    ]);
  } finally {
    await t.close();
  }
});

Deno.test("HEAD answers with the GET reply's headers and Content-Length, without a body", async () => {
  const t = await startTestCore();
  try {
    for (const path of ["/v1/sys/seal-status", "/v1/sys/health", "/v1/sys/leader"]) {
      const get = await fetch(`${t.url}${path}`);
      const body = await get.text();
      const head = await fetch(`${t.url}${path}`, { method: "HEAD" });
      assert.equal(head.status, get.status, path);
      assert.equal(await head.text(), "", path);
      assert.equal(head.headers.get("content-type"), get.headers.get("content-type"), path);
      // seal-status and leader carry nothing that changes between the two requests.
      if (path !== "/v1/sys/health") {
        assert.equal(Number(head.headers.get("content-length")), body.length, path);
      } else assert.ok(Number(head.headers.get("content-length")) > 0, path);
    }
  } finally {
    await t.close();
  }
});
