/**
 * AgentLink against a stand-in for core's agent listener: a TLS WebSocket server that validates
 * frames with the real protocol schema and, like core's hub, refuses a whole `secret:subscribe`
 * frame when any path in it is bad.
 */
import assert from "node:assert/strict";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { AgentMessage, parseFrame } from "../../lib/agent_protocol.ts";
import { AgentLink } from "../../agent/link.ts";

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

function pem(label: string, der: ArrayBuffer): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der))).replace(/.{64}/g, "$&\n");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** A CA and a certificate for 127.0.0.1 it signed (the link also presents it as its own). */
async function tlsMaterial(): Promise<{ caPem: string; certPem: string; keyPem: string }> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 3_600_000);
  const caKeys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=link test CA",
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
    ],
  });
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "02",
    subject: "CN=127.0.0.1",
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingKey: caKeys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: "ip", value: "127.0.0.1" }]),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
    ],
  });
  return {
    caPem: ca.toString("pem"),
    certPem: cert.toString("pem"),
    keyPem: pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", keys.privateKey)),
  };
}

interface FakeCore {
  url: string;
  /** Every subscribe frame received, in order. */
  frames: string[][];
  subscribed: Set<string>;
  /** Paths refused with 400 as if the schema had refused them (a rule newer than the agent's). */
  refuse: Set<string>;
  dropLinks(): void;
  close(): Promise<void>;
}

function fakeCore(tls: { certPem: string; keyPem: string }): FakeCore {
  const sockets = new Set<WebSocket>();
  const core: Omit<FakeCore, "url" | "close"> = {
    frames: [],
    subscribed: new Set(),
    refuse: new Set(),
    dropLinks: () => sockets.forEach((ws) => ws.close(1011, "test")),
  };
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: tls.certPem,
    key: tls.keyPem,
    onListen: () => {},
  }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    sockets.add(socket);
    socket.onclose = () => sockets.delete(socket);
    socket.onmessage = (ev) => {
      const p = parseFrame(AgentMessage, ev.data);
      if (!p.ok) {
        socket.send(
          JSON.stringify({ type: "error", id: p.id ?? "", status: 400, errors: [p.error] }),
        );
        return;
      }
      const m = p.msg;
      if (m.type === "ack") return;
      if (m.type === "secret:subscribe") {
        core.frames.push(m.paths);
        const bad = m.paths.findIndex((x) => core.refuse.has(x));
        if (bad >= 0) {
          socket.send(
            JSON.stringify({ type: "error", id: m.id, status: 400, errors: [`paths.${bad}: bad`] }),
          );
          return;
        }
        for (const x of m.paths) core.subscribed.add(x);
      }
      socket.send(JSON.stringify({ type: "ack", id: m.id, data: null }));
    };
    return response;
  });
  return {
    ...core,
    url: `wss://127.0.0.1:${server.addr.port}`,
    close: async () => {
      core.dropLinks();
      await server.shutdown();
    },
  };
}

async function until(what: string, f: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("AgentLink.subscribe() drops only the path core refuses; the others get their pushes", async () => {
  const tls = await tlsMaterial();
  const core = fakeCore(tls);
  const logs: { msg: string; path?: unknown; level?: string }[] = [];
  let up = false;
  const link = new AgentLink({
    urls: [core.url],
    credentials: () => tls,
    version: "test",
    onPush: () => {},
    onState: (online) => (up = online),
    backoffInitialMs: 10,
    backoffMaxMs: 20,
    log: (msg, f, level) => logs.push({ msg, path: f?.path, level }),
  });
  try {
    core.refuse.add("secret/data/refused");
    const bad = [
      "/secret/data/web/db",
      "secret/data/./x",
      "secret/data/../sys",
      "secret/data/refused",
    ];
    const paths = ["secret/data/a", ...bad, "secret/data/b"];
    await link.subscribe(paths);
    // The same paths again, as every read asks: still one log line each.
    await link.subscribe(paths);
    link.start();
    await until("link up", () => up);
    assert.ok(link.subscribed("secret/data/a"), "a good path lost its subscription");
    assert.ok(link.subscribed("secret/data/b"), "a good path lost its subscription");
    for (const p of bad) assert.ok(!link.subscribed(p), p);
    assert.deepEqual([...core.subscribed].sort(), ["secret/data/a", "secret/data/b"]);
    // The ones the agent knows to be bad never reach core; the one core refuses is found.
    assert.ok(core.frames.every((f) => f.every((p) => !bad.slice(0, 3).includes(p))));

    // Subscribed while online: a new path is sent, the dropped one is not sent again.
    let frames = core.frames.length;
    await link.subscribe(["secret/data/refused", "secret/data/c"]);
    assert.ok(link.subscribed("secret/data/c"));
    assert.deepEqual(core.frames.slice(frames), [["secret/data/c"]]);

    // A reconnect re-sends every kept subscription, and only those.
    core.subscribed.clear();
    frames = core.frames.length;
    core.dropLinks();
    await until("link down", () => !up);
    await until("link up again", () => up);
    assert.deepEqual([...core.subscribed].sort(), [
      "secret/data/a",
      "secret/data/b",
      "secret/data/c",
    ]);
    assert.ok(core.frames.slice(frames).every((f) => !f.includes("secret/data/refused")));
    assert.ok(link.subscribed("secret/data/a"));

    const dropped = logs.filter((l) => l.msg.includes("subscription refused"));
    assert.deepEqual(dropped.map((l) => l.path).sort(), [...bad].sort());
    assert.ok(dropped.every((l) => l.level === "warn"));
  } finally {
    link.stop();
    await core.close();
  }
});
