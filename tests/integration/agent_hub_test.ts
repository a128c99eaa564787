/**
 * The agent hub over a real mTLS WebSocket: an in-process core (real libSQL file) with its agent
 * listener, and the agent's own link client with a certificate from `pki/agent/issue`.
 */
import assert from "node:assert/strict";
import { AgentLink, LinkError } from "../../agent/link.ts";
import { describeCert, newKeyAndCsr } from "../../agent/identity.ts";
import type { CoreMessage } from "../../lib/agent_protocol.ts";
import { waitFor } from "../helpers/agent_env.ts";
import { env, link } from "./agent_link_fixture.ts";

Deno.test("hub: reads follow the agent's policy, are audited, and bad frames get an error", async () => {
  const e = await env();
  const l = link(e.url, await e.enrol("edge-a"));
  try {
    await e.t.req("POST", "/v1/secret/data/web/db", { data: { password: "pw1" } });
    await e.t.req("POST", "/v1/secret/data/ops/root", { data: { password: "nope" } });
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    const ok = await l.request({ type: "secret:read", path: "secret/data/web/db" });
    assert.equal((ok!.data as { data: { password: string } }).data.password, "pw1");
    await assert.rejects(
      l.request({ type: "secret:read", path: "secret/data/ops/root" }),
      (err: unknown) => err instanceof LinkError && err.status === 403,
    );
    await assert.rejects(
      l.request({ type: "secret:read", path: "secret/data/web/missing" }),
      (err: unknown) => err instanceof LinkError && err.status === 404,
    );
    // Audited like an HTTP read: the path is in the audit table, the value is not.
    const db = await Deno.readFile(e.t.dbFile);
    const text = new TextDecoder("latin1").decode(db);
    assert.ok(!text.includes("pw1"));
    const entries = [...e.t.core.physical.auditRows(1)].map((r) => JSON.stringify(r.entry));
    const denied = entries.filter((x) => x.includes("secret/data/ops/root"));
    assert.ok(denied.length >= 1, "the refused read is in the audit log");
    assert.ok(entries.some((x) => x.includes("secret/data/web/db")));
    // A raw socket sending junk gets an error frame back and stays usable.
    const creds = await e.enrol("edge-raw");
    const client = Deno.createHttpClient({
      cert: creds.certPem,
      key: creds.keyPem,
      caCerts: [creds.caPem],
    });
    const ws = new WebSocket(`${e.url}/v1/agent/connect`, { client } as unknown as string[]);
    const replies: string[] = [];
    ws.onmessage = (m) => replies.push(String(m.data));
    await new Promise((r) => ws.onopen = r);
    ws.send(JSON.stringify({ type: "agent:hello", id: "h0", version: "raw", protocol: 1 }));
    ws.send("{not json");
    ws.send(JSON.stringify({ type: "secret:read", id: "r1", path: "../sys/seal" }));
    ws.send(JSON.stringify({ type: "agent:heartbeat", id: "h1" }));
    await waitFor(() => Promise.resolve(replies.length >= 4), 2000, "replies");
    const parsed = replies.map((x) => JSON.parse(x)).slice(1);
    assert.equal(parsed[0].type, "error");
    assert.equal(parsed[0].status, 400);
    assert.deepEqual([parsed[1].type, parsed[1].id, parsed[1].status], ["error", "r1", 400]);
    assert.deepEqual([parsed[2].type, parsed[2].id], ["ack", "h1"]);
    ws.close();
    client.close();

    const agents = await e.t.req("GET", "/v1/sys/agents/edge-a");
    assert.equal(agents.body.data.connected, true);
    assert.equal(agents.body.data.version, "test");
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: a write to a subscribed path is pushed within 1 s; unreadable paths are not", async () => {
  const e = await env();
  const pushes: CoreMessage[] = [];
  const l = link(e.url, await e.enrol("edge-b"), pushes);
  try {
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    await l.subscribe(["secret/data/web/*", "secret/data/ops/*"]);
    const t0 = Date.now();
    await e.t.req("POST", "/v1/secret/data/web/api", { data: { k: "v" } });
    await waitFor(() => Promise.resolve(pushes.length > 0), 1000, "push");
    assert.ok(Date.now() - t0 < 1000);
    assert.deepEqual(
      { type: pushes[0].type, path: (pushes[0] as { path: string }).path },
      { type: "secret:rotated", path: "secret/data/web/api" },
    );
    assert.equal((pushes[0] as { version: number }).version, 1);
    await e.t.req("POST", "/v1/secret/data/ops/x", { data: { k: "v" } });
    await e.t.req("DELETE", "/v1/secret/metadata/web/api");
    await waitFor(() => Promise.resolve(pushes.length >= 2), 1000, "delete push");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(
      pushes.filter((p) => (p as { path?: string }).path === "secret/data/ops/x").length,
      0,
    );
    await e.t.req("PUT", "/v1/sys/policies/acl/other", {
      policy: 'path "x" { capabilities = ["read"] }',
    });
    await waitFor(
      () => Promise.resolve(pushes.some((p) => p.type === "policy:updated")),
      1000,
      "policy push",
    );
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: one link per agent; an app certificate is refused; disconnect works", async () => {
  const e = await env();
  const creds = await e.enrol("edge-c");
  const closes: unknown[] = [];
  // Retries slow enough that the first link does not take the place back while the test looks.
  const first = link(e.url, creds, [], { closes, backoffInitialMs: 10_000, backoffMaxMs: 10_000 });
  let second: AgentLink | null = null;
  try {
    await waitFor(() => Promise.resolve(first.online), 5000, "first online");
    second = link(e.url, creds);
    await waitFor(() => Promise.resolve(second!.online), 5000, "second online");
    // The newer connection wins and the older one is told why.
    await waitFor(() => Promise.resolve(closes.includes(4000)), 5000, "first closed");
    assert.equal(first.online, false);
    const list = await e.t.req("GET", "/v1/sys/agents");
    assert.deepEqual(list.body.data.keys, ["edge-c"]);
    assert.equal(e.listener.hub.connections().length, 1);
    const info = list.body.data.key_info["edge-c"];
    assert.equal(info.connected, true);
    assert.equal(info.remote_address, "127.0.0.1");
    assert.ok(Date.now() - Date.parse(info.last_seen) < 60_000, info.last_seen);
    first.stop();

    // An app's certificate chains to the same CA but is not an agent identity.
    const app = await e.t.req("POST", "/v1/apps", { name: "web" });
    assert.equal(app.status, 200, JSON.stringify(app.body));
    const appId = app.body.data.id;
    const boot = await e.t.req("POST", `/v1/apps/${appId}/bootstrap-token`, {});
    const { keyPem, csrPem } = await newKeyAndCsr("web");
    const issued = await e.t.req("POST", "/v1/pki/app/issue", {
      bootstrap_token: boot.body.data.bootstrap_token,
      csr: csrPem,
    }, null);
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const appLink = link(e.url, {
      certPem: issued.body.data.certificate,
      keyPem,
      caPem: creds.caPem,
    });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(appLink.online, false);
    appLink.stop();

    const d = await e.t.req("POST", "/v1/sys/agents/edge-c/disconnect", {});
    assert.equal(d.body.data.disconnected, true);
  } finally {
    first.stop();
    second?.stop();
    await e.close();
  }
});

Deno.test("hub: a suspended agent is dropped and refused until activated; a revoked one stays revoked", async () => {
  const e = await env();
  const creds = await e.enrol("edge-s");
  const l = link(e.url, creds);
  try {
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    const s = await e.t.req("POST", "/v1/sys/agents/edge-s/suspend", {});
    assert.equal(s.status, 200, JSON.stringify(s.body));
    assert.equal(s.body.data.status, "suspended");
    await waitFor(() => Promise.resolve(!l.online), 5000, "dropped");
    // It keeps retrying every 100-200 ms; every handshake must be refused while suspended.
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(l.online, false);
    assert.equal((await e.t.req("GET", "/v1/sys/agents/edge-s")).body.data.status, "suspended");
    // No new certificate either, even with valid AppRole credentials.
    await assert.rejects(e.enrol("edge-s"), /403|permission denied/);

    const a = await e.t.req("POST", "/v1/sys/agents/edge-s/activate", {});
    assert.equal(a.body.data.status, "active");
    await waitFor(() => Promise.resolve(l.online), 5000, "back online");

    assert.equal((await e.t.req("POST", "/v1/sys/agents/edge-s/revoke", {})).status, 200);
    const again = await e.t.req("POST", "/v1/sys/agents/edge-s/activate", {});
    assert.equal(again.status, 400);
    assert.match(again.body.errors[0], /revoked/);
    assert.equal((await e.t.req("POST", "/v1/sys/agents/nobody/suspend", {})).status, 404);
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: a link silent for longer than two heartbeats is closed (4002) and the agent reconnects", async () => {
  let skew = 0;
  const e = await env({ now: () => Date.now() + skew });
  const creds = await e.enrol("edge-quiet");
  const closes: unknown[] = [];
  // No heartbeat during the test: the link goes quiet.
  const l = link(e.url, creds, [], { closes, heartbeatMs: 60_000 });
  try {
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    e.listener.hub.closeSilent();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(l.online, true, "a link heard from just now stays");
    assert.equal(closes.length, 0);
    // 80 s later by core's clock, with nothing heard: core ends it.
    skew = 80_000;
    e.listener.hub.closeSilent();
    skew = 0;
    await waitFor(() => Promise.resolve(closes.includes(4002)), 5000, "closed for silence");
    await waitFor(() => Promise.resolve(l.online), 5000, "reconnected");
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: cert:renew over the link issues a new certificate for the same agent", async () => {
  const e = await env();
  const creds = await e.enrol("edge-d");
  const l = link(e.url, creds);
  try {
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    const { csrPem } = await newKeyAndCsr("whatever-the-csr-says");
    const r = await l.request({ type: "cert:renew", csr: csrPem });
    const cert = r!.certificate as string;
    assert.notEqual(describeCert(cert).serial, describeCert(creds.certPem).serial);
    // The identity comes from the link's certificate, not from the CSR's subject.
    const der = await new Response(cert).text();
    assert.ok(der.includes("BEGIN CERTIFICATE"));
    const openssl = new Deno.Command("openssl", {
      args: ["x509", "-noout", "-ext", "subjectAltName"],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const w = openssl.stdin.getWriter();
    await w.write(new TextEncoder().encode(cert));
    await w.close();
    const out = new TextDecoder().decode((await openssl.output()).stdout);
    assert.match(out, /urn:secrethub:agent:edge-d/);
    await assert.rejects(
      l.request({ type: "cert:renew", csr: "not a csr" }),
      (err: unknown) => err instanceof LinkError && err.status === 400,
    );
  } finally {
    l.stop();
    await e.close();
  }
});

/** Collects unhandled rejections (which would end a real core process) while `f` runs. */
async function noUnhandledRejections(f: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onRejection = (ev: PromiseRejectionEvent) => {
    ev.preventDefault();
    seen.push(ev.reason);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  try {
    await f();
    // Give a rejected promise a turn to surface.
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    globalThis.removeEventListener("unhandledrejection", onRejection);
  }
  return seen;
}

Deno.test("hub: core sealing while a link opens is no unhandled rejection (core keeps running)", async () => {
  const e = await env();
  const creds = await e.enrol("edge-seal");
  const identity = e.t.core.identity!;
  const real = identity.agentPolicies.bind(identity);
  // The race made certain: the seal lands between the upgrade and the link's set-up.
  identity.agentPolicies = async (id) => {
    await e.t.core.sealNow();
    return await real(id);
  };
  let l: AgentLink | null = null;
  try {
    const seen = await noUnhandledRejections(async () => {
      l = link(e.url, creds);
      await waitFor(() => Promise.resolve(e.t.core.sealed), 5000, "sealed");
      await new Promise((r) => setTimeout(r, 200));
    });
    assert.deepEqual(seen.map((x) => String(x)), []);
    assert.equal(l!.online, false);
    assert.equal(e.listener.hub.connections().length, 0);
  } finally {
    (l as AgentLink | null)?.stop();
    await e.close();
  }
});

Deno.test("hub: a link closed while it is being set up leaves no live session behind", async () => {
  const e = await env();
  const creds = await e.enrol("edge-ghost");
  const identity = e.t.core.identity!;
  const real = identity.agentPolicies.bind(identity);
  let clientClosed!: () => void;
  const closed = new Promise<void>((r) => clientClosed = r);
  identity.agentPolicies = async (id) => {
    await closed;
    return await real(id);
  };
  const client = Deno.createHttpClient({
    cert: creds.certPem,
    key: creds.keyPem,
    caCerts: [creds.caPem],
  });
  try {
    const ws = new WebSocket(`${e.url}/v1/agent/connect`, { client } as unknown as string[]);
    await new Promise((r) => ws.onopen = r);
    const gone = new Promise((r) => ws.onclose = r);
    ws.close();
    await gone;
    await new Promise((r) => setTimeout(r, 100));
    clientClosed();
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(e.listener.hub.connections().map((c) => c.agent_id), []);
    const rec = await e.t.req("GET", "/v1/sys/agents/edge-ghost");
    assert.equal(rec.body.data.connected, false);
  } finally {
    client.close();
    await e.close();
  }
});

Deno.test("hub: an agent holding more than one frame of subscriptions still links and gets pushes", async () => {
  const e = await env();
  const pushes: CoreMessage[] = [];
  const creds = await e.enrol("edge-many");
  const l = link(e.url, creds, pushes, { start: false });
  try {
    const paths = Array.from({ length: 1500 }, (_, i) => `secret/data/web/s${i}`);
    await l.subscribe(paths); // offline: remembered, sent on connect
    l.start();
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    assert.ok(l.subscribed("secret/data/web/s1499"));
    await e.t.req("POST", "/v1/secret/data/web/s1499", { data: { k: "v" } });
    await waitFor(() => Promise.resolve(pushes.length > 0), 1000, "push");
    assert.equal((pushes[0] as { path: string }).path, "secret/data/web/s1499");
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: subscriptions beyond the per-agent limit are refused, not silently dropped", async () => {
  const e = await env();
  const l = link(e.url, await e.enrol("edge-cap"));
  try {
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    for (let i = 0; i < 10; i++) {
      const paths = Array.from({ length: 1000 }, (_, j) => `secret/data/web/c${i}-${j}`);
      await l.subscribe(paths);
    }
    await assert.rejects(
      l.subscribe(["secret/data/web/one-too-many"]),
      (err: unknown) => err instanceof LinkError && err.status === 429,
    );
    assert.equal(l.subscribed("secret/data/web/one-too-many"), false);
    assert.equal(l.subscribed("secret/data/web/c9-999"), true);
    assert.equal(e.listener.hub.connections()[0]!.subscriptions, 10_000);
  } finally {
    l.stop();
    await e.close();
  }
});
