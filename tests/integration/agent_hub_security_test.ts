/**
 * What an agent link must not do, over a real mTLS WebSocket to an in-process core (real libSQL
 * file): hand out its own token or the root policy, outlive the role that enrolled the agent or
 * the certificate it opened with, push what the agent may not know, mint certificates without
 * bound, or act before the agent said hello.
 */
import assert from "node:assert/strict";
import { waitFor } from "../helpers/agent_env.ts";
import { type Enrolled, env, link } from "./agent_link_fixture.ts";
import { type LinkCredentials, LinkError } from "../../agent/link.ts";
import { describeCert } from "../../agent/identity.ts";
import {
  AGENT_REVOKED_CLOSE,
  type CoreMessage,
  PROTOCOL_VERSION,
} from "../../lib/agent_protocol.ts";
import { renewMessage } from "../../core/identity/renew_proof.ts";
import { LINK_TOKEN_PATH } from "../../core/token/token_store.ts";
import { clientKey, signMessage } from "./identity_fixtures.ts";

/** A bare WebSocket with the agent's certificate: frames exactly as the test writes them. */
class RawLink {
  readonly replies: Record<string, unknown>[] = [];
  readonly closed: Promise<number>;
  readonly #ws: WebSocket;
  readonly #client: Deno.HttpClient;

  private constructor(ws: WebSocket, client: Deno.HttpClient) {
    this.#ws = ws;
    this.#client = client;
    ws.onmessage = (m) => this.replies.push(JSON.parse(String(m.data)));
    this.closed = new Promise((r) => ws.onclose = (ev) => r(ev.code));
  }

  static async open(url: string, c: LinkCredentials): Promise<RawLink> {
    const client = Deno.createHttpClient({ cert: c.certPem, key: c.keyPem, caCerts: [c.caPem] });
    const ws = new WebSocket(`${url}/v1/agent/connect`, { client } as unknown as string[]);
    const raw = new RawLink(ws, client);
    await new Promise((r, j) => {
      ws.onopen = r;
      ws.onerror = j;
    });
    return raw;
  }

  send(frame: unknown): void {
    this.#ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Sends a request and waits for the answer with the same id. */
  async ask(frame: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.send(frame);
    let hit: Record<string, unknown> | undefined;
    await waitFor(
      () => Promise.resolve((hit = this.replies.find((r) => r.id === frame.id)) !== undefined),
      5000,
      `answer to ${frame.id}`,
    );
    return hit!;
  }

  hello(): Promise<Record<string, unknown>> {
    return this.ask({
      type: "agent:hello",
      id: "hello",
      version: "raw",
      protocol: PROTOCOL_VERSION,
    });
  }

  /** The close code, or null if the link is still open after `ms`. */
  async closedWithin(ms: number): Promise<number | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const code = await Promise.race([
      this.closed,
      new Promise<null>((r) => timer = setTimeout(() => r(null), ms)),
    ]);
    clearTimeout(timer);
    return code;
  }

  async close(): Promise<void> {
    try {
      this.#ws.close();
    } catch { /* already closed */ }
    await this.closedWithin(2000);
    this.#client.close();
  }
}

/** Body of `pki/agent/renew` proven by a signature of the current certificate's key. */
async function renewProof(c: Enrolled, o: { revokeOld?: boolean } = {}) {
  const next = await clientKey();
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = await signMessage(c.key, renewMessage(next.csrPem, timestamp));
  return {
    certificate: c.certPem,
    csr: next.csrPem,
    timestamp,
    signature,
    ...(o.revokeOld ? { revoke_old: true } : {}),
  };
}

Deno.test("pki/agent/issue refuses a token with the root policy", async () => {
  const e = await env();
  try {
    const root = await e.t.req("POST", "/v1/auth/token/create", { policies: ["root"] });
    const key = await clientKey();
    const r = await e.t.req(
      "POST",
      "/v1/pki/agent/issue",
      { agent_id: "edge-root", csr: key.csrPem },
      root.body.auth.client_token,
    );
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], /"root" policy cannot be given to an agent/);
    assert.equal((await e.t.req("GET", "/v1/sys/agents/edge-root")).status, 404);
  } finally {
    await e.close();
  }
});

Deno.test("hub: a link token never carries root, even for an agent recorded with it", async () => {
  const e = await env();
  const identity = e.t.core.identity!;
  // A record from before root was refused at issue.
  await identity.agents.claim("edge-old", "accessor/legacy", ["root"]);
  const key = await clientKey();
  const issued = await identity.pki.issue("agent", "edge-old", key.csrPem);
  await identity.agents.recordCert("edge-old", {
    serial_number: issued.serial_number,
    expiration: issued.expiration,
  });
  const raw = await RawLink.open(e.url, {
    certPem: issued.certificate,
    keyPem: key.keyPem,
    caPem: e.caPem,
  });
  try {
    await raw.hello();
    const r = await raw.ask({ type: "secret:read", id: "r1", path: "sys/policies/acl/edge" });
    assert.deepEqual([r.type, r.status], ["error", 403], JSON.stringify(r));
  } finally {
    await raw.close();
    await e.close();
  }
});

Deno.test("hub: the link's own token is never relayed (token endpoints are refused)", async () => {
  const e = await env();
  const l = link(e.url, await e.enrol("edge-self"));
  try {
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    for (const path of ["auth/token/lookup-self", "auth/token/lookup"]) {
      await assert.rejects(
        l.request({ type: "secret:read", path }),
        (err: unknown) =>
          err instanceof LinkError && err.status === 403 &&
          /not available over the agent link/.test(err.message),
        path,
      );
    }
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: deleting the enrolling role suspends its agents and drops their links", async () => {
  const e = await env();
  const closes: unknown[] = [];
  const l = link(e.url, await e.enrol("edge-role"), [], { closes });
  try {
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    assert.equal((await e.t.req("DELETE", "/v1/auth/approle/role/edge")).status, 204);
    await waitFor(() => Promise.resolve(!l.online), 5000, "dropped");
    const rec = await e.t.req("GET", "/v1/sys/agents/edge-role");
    assert.equal(rec.body.data.status, "suspended");
    // Its retries (every 100-200 ms) are refused from now on.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(l.online, false);
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: disabling the enrolling auth mount suspends its agents", async () => {
  const e = await env();
  const l = link(e.url, await e.enrol("edge-mount"));
  try {
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    assert.equal((await e.t.req("DELETE", "/v1/sys/auth/approle")).status, 204);
    await waitFor(() => Promise.resolve(!l.online), 5000, "dropped");
    assert.equal(
      (await e.t.req("GET", "/v1/sys/agents/edge-mount")).body.data.status,
      "suspended",
    );
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: an agent whose enrolling role is gone is refused at the handshake and at renewal", async () => {
  const e = await env();
  const identity = e.t.core.identity!;
  // The role went while nothing was listening (a crash between its delete and the suspension).
  const approle = e.t.core.auth.list().find((m) => m.type === "approle")!;
  await identity.agents.claim("edge-ghost", `${approle.uuid}/gone`, ["edge", "default"]);
  const key = await clientKey();
  const issued = await identity.pki.issue("agent", "edge-ghost", key.csrPem);
  await identity.agents.recordCert("edge-ghost", {
    serial_number: issued.serial_number,
    expiration: issued.expiration,
  });
  const creds: Enrolled = {
    certPem: issued.certificate,
    keyPem: key.keyPem,
    caPem: e.caPem,
    key,
    serial: issued.serial_number,
  };
  try {
    // Over HTTP with a signature as proof: no new certificate.
    const renewed = await e.t.req("POST", "/v1/pki/agent/renew", await renewProof(creds), null);
    assert.equal(renewed.status, 403, renewed.text);
    assert.equal(
      (await e.t.req("GET", "/v1/sys/agents/edge-ghost")).body.data.status,
      "suspended",
    );
    // Activated by an operator: still no link while the role is gone.
    await e.t.req("POST", "/v1/sys/agents/edge-ghost/activate", {});
    const raw = await RawLink.open(e.url, creds);
    const code = await raw.closedWithin(3000);
    await raw.close();
    assert.equal(code, 4003, "refused as not active");
    assert.equal(e.listener.hub.connections().length, 0);
    assert.equal(
      (await e.t.req("GET", "/v1/sys/agents/edge-ghost")).body.data.status,
      "suspended",
    );
  } finally {
    await e.close();
  }
});

Deno.test("hub: a handshake takes the enrolling role's current policies", async () => {
  const e = await env();
  const l = link(e.url, await e.enrol("edge-pol"));
  try {
    await e.t.req("POST", "/v1/secret/data/web/db", { data: { k: "web" } });
    await e.t.req("POST", "/v1/secret/data/ops/db", { data: { k: "ops" } });
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    await l.request({ type: "secret:read", path: "secret/data/web/db" });
    assert.equal(
      (await e.t.req("POST", "/v1/auth/approle/role/edge", {
        token_policies: ["ops"],
      })).status,
      204,
    );
    await e.t.req("POST", "/v1/sys/agents/edge-pol/disconnect", {});
    await waitFor(() => Promise.resolve(l.online), 5000, "back online");
    await l.request({ type: "secret:read", path: "secret/data/ops/db" });
    await assert.rejects(
      l.request({ type: "secret:read", path: "secret/data/web/db" }),
      (err: unknown) => err instanceof LinkError && err.status === 403,
    );
    const rec = await e.t.req("GET", "/v1/sys/agents/edge-pol");
    assert.deepEqual([...rec.body.data.policies].sort(), ["default", "ops"]);
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: revoking the link's certificate closes the link with 4004", async () => {
  const e = await env();
  const creds = await e.enrol("edge-rev");
  const closes: unknown[] = [];
  const l = link(e.url, creds, [], { closes });
  try {
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    const r = await e.t.req(
      "POST",
      "/v1/pki/agent/renew",
      await renewProof(creds, { revokeOld: true }),
      null,
    );
    assert.equal(r.status, 200, r.text);
    await waitFor(
      () => Promise.resolve(closes.includes(AGENT_REVOKED_CLOSE)),
      5000,
      "closed as revoked",
    );
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: a link closes when its certificate expires (4005)", async () => {
  const e = await env();
  const creds = await e.enrol("edge-exp", { ttl: "3s" });
  const closes: unknown[] = [];
  const l = link(e.url, creds, [], { closes });
  try {
    await waitFor(() => Promise.resolve(l.online), 2500, "online");
    await waitFor(() => Promise.resolve(closes.includes(4005)), 8000, "closed as expired");
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: cert:renew on a link whose certificate has expired by core's clock is refused", async () => {
  let skew = 0;
  const e = await env({ now: () => Date.now() + skew });
  const creds = await e.enrol("edge-late");
  const raw = await RawLink.open(e.url, creds);
  try {
    await raw.hello();
    const { notAfter } = describeCert(creds.certPem);
    skew = notAfter - Date.now() + 60_000;
    const key = await clientKey();
    const r = await raw.ask({ type: "cert:renew", id: "c1", csr: key.csrPem });
    assert.equal(r.type, "error", JSON.stringify(r));
    assert.equal(await raw.closedWithin(3000), 4005);
  } finally {
    skew = 0;
    await raw.close();
    await e.close();
  }
});

Deno.test("hub: writes to a token's cubbyhole are never pushed", async () => {
  const e = await env();
  const pushes: CoreMessage[] = [];
  const l = link(e.url, await e.enrol("edge-cubby"), pushes);
  try {
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    await l.subscribe(["cubbyhole/*", "secret/data/web/*"]);
    await e.t.req("POST", "/v1/cubbyhole/prod-db-root-password", { password: "x" });
    // A later push the agent may see: once it is in, the cubbyhole one would have been too.
    await e.t.req("POST", "/v1/secret/data/web/marker", { data: { k: "v" } });
    await waitFor(() => Promise.resolve(pushes.length > 0), 2000, "marker push");
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      pushes.map((p) => (p as { path?: string }).path),
      ["secret/data/web/marker"],
    );
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: policy:updated follows policy changes, not reads of the simulator", async () => {
  const e = await env();
  const pushes: CoreMessage[] = [];
  const l = link(e.url, await e.enrol("edge-sim"), pushes);
  try {
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    const sim = await e.t.req("POST", "/v1/sys/policies/simulate", {
      policies: ["edge"],
      path: "secret/data/web/db",
      operation: "read",
    });
    assert.equal(sim.status, 200, sim.text);
    await e.t.req("PUT", "/v1/sys/policies/acl/other", {
      policy: 'path "x" { capabilities = ["read"] }',
    });
    await waitFor(
      () => Promise.resolve(pushes.some((p) => p.type === "policy:updated")),
      2000,
      "policy push",
    );
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(pushes.filter((p) => p.type === "policy:updated").length, 1);
    await e.t.req("DELETE", "/v1/sys/policies/acl/other");
    await waitFor(
      () => Promise.resolve(pushes.filter((p) => p.type === "policy:updated").length === 2),
      2000,
      "policy push on delete",
    );
  } finally {
    l.stop();
    await e.close();
  }
});

Deno.test("hub: secret:read of a route that does not answer JSON is a 4xx, not a 500", async () => {
  const e = await env();
  const raw = await RawLink.open(e.url, await e.enrol("edge-pem"));
  try {
    await raw.hello();
    const r = await raw.ask({ type: "secret:read", id: "ca", path: "sys/agent/ca" });
    assert.equal(r.type, "error");
    assert.equal(r.status, 400);
    assert.deepEqual(r.errors, ["not a JSON secret"]);
  } finally {
    await raw.close();
    await e.close();
  }
});

Deno.test("hub: cert:renew is limited per agent, and an agent keeps at most 10 live certificates", async () => {
  const e = await env();
  const token = await e.login();
  const creds = await e.enrol("edge-flood", { token });
  const raw = await RawLink.open(e.url, creds);
  try {
    await raw.hello();
    const csr = (await clientKey()).csrPem;
    const first = await raw.ask({ type: "cert:renew", id: "c1", csr });
    assert.equal(first.type, "ack", JSON.stringify(first));
    const second = await raw.ask({ type: "cert:renew", id: "c2", csr });
    assert.deepEqual([second.type, second.status], ["error", 429], JSON.stringify(second));

    // Re-enrolling (a fresh login each time, as an agent reinstalled would) is not renewal, but
    // the record is still capped: the oldest certificates go on the CRL.
    const serials = [creds.serial, (first.data as { serial_number: string }).serial_number];
    for (let i = 0; i < 10; i++) serials.push((await e.enrol("edge-flood", { token })).serial);
    const rec = await e.t.core.identity!.agents.get("edge-flood");
    assert.equal(rec!.certificates.length, 10);
    const pki = e.t.core.identity!.pki;
    assert.equal(await pki.isRevoked(serials[0]!), true);
    assert.equal(await pki.isRevoked(serials[1]!), true);
    assert.equal(await pki.isRevoked(serials[2]!), false);
    // The link presented the first certificate: revoked, so it is closed.
    assert.equal(await raw.closedWithin(3000), AGENT_REVOKED_CLOSE);
  } finally {
    await raw.close();
    await e.close();
  }
});

Deno.test("hub: nothing but agent:hello with a supported protocol opens a link", async () => {
  const e = await env();
  const creds = await e.enrol("edge-hs");
  const links: RawLink[] = [];
  const open = async () => {
    const l = await RawLink.open(e.url, creds);
    links.push(l);
    return l;
  };
  try {
    const before = await open();
    const r = await before.ask({ type: "secret:read", id: "early", path: "secret/data/web/x" });
    assert.deepEqual([r.type, r.status], ["error", 400]);
    assert.match(String((r.errors as string[])[0]), /agent:hello/);
    assert.equal(await before.closedWithin(3000), 1002);

    const wrong = await open();
    const h = await wrong.ask({ type: "agent:hello", id: "h", version: "x", protocol: 99 });
    assert.deepEqual([h.type, h.status], ["error", 400]);
    assert.equal(await wrong.closedWithin(3000), 1002);

    const good = await open();
    assert.equal((await good.hello()).type, "ack");
    good.send({ type: "agent:heartbeat", id: "x".repeat(100) });
    await waitFor(() => Promise.resolve(good.replies.length > 1), 2000, "reply");
    assert.equal(good.replies[1]!.type, "error");
    assert.equal(good.replies[1]!.id, "", "an id longer than the protocol allows is not echoed");
    assert.equal((await good.ask({ type: "agent:heartbeat", id: "hb" })).type, "ack");
  } finally {
    for (const l of links) await l.close();
    await e.close();
  }
});

Deno.test("hub: an agent suspended while its link is being set up gets no link", async () => {
  const e = await env();
  const creds = await e.enrol("edge-race");
  const identity = e.t.core.identity!;
  const real = identity.agentPolicies.bind(identity);
  // The race made certain: the suspension lands after the status check, before the link exists.
  identity.agentPolicies = async (id) => {
    const p = await real(id);
    await e.t.req("POST", `/v1/sys/agents/${id}/suspend`, {});
    return p;
  };
  const raw = await RawLink.open(e.url, creds);
  try {
    const code = await raw.closedWithin(3000);
    assert.notEqual(code, null, "the link was closed");
    assert.equal(e.listener.hub.connections().length, 0);
  } finally {
    identity.agentPolicies = real;
    await raw.close();
    await e.close();
  }
});

Deno.test("a link token is refused on the HTTP API: it acts only through its link", async () => {
  const e = await env();
  const l = link(e.url, await e.enrol("edge-bearer"));
  try {
    await waitFor(() => Promise.resolve(l.online), 5000, "online");
    // The link works through the hub with the same kind of token…
    await e.t.req("POST", "/v1/secret/data/web/db", { data: { password: "w1" } });
    const via = await l.request({ type: "secret:read", path: "secret/data/web/db" }) as {
      data: { data: { password: string } };
    };
    assert.equal(via.data.data.password, "w1");
    // …but one read out of a link (or off the agent's disk) is no bearer token over HTTP.
    const { token } = await e.t.core.tokens.create({
      policies: ["default"],
      parent: null,
      ttl: 600,
      path: LINK_TOKEN_PATH,
    });
    const r = await e.t.req("GET", "/v1/auth/token/lookup-self", undefined, token);
    assert.equal(r.status, 403, r.text);
    const plain = await e.t.core.tokens.create({ policies: ["default"], parent: null, ttl: 600 });
    assert.equal(
      (await e.t.req("GET", "/v1/auth/token/lookup-self", undefined, plain.token)).status,
      200,
    );
  } finally {
    l.stop();
    await e.close();
  }
});
