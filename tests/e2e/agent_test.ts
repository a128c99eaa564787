/**
 * The agent against a real core, both as separate processes on 127.0.0.1: bootstrap over
 * AppRole + CSR, mTLS WebSocket link, templates, pushes, the Unix-socket API, the offline
 * cache (memory and encrypted disk), max_stale, reconnect, failover and revocation.
 */
import assert from "node:assert/strict";
import {
  agentOnline,
  type AgentProc,
  type AgentWorld,
  type CoreProc,
  setupAgentRole,
  startAgent,
  startCore,
  waitFor,
  withAgentWorld,
  writeSecret,
} from "../helpers/agent_env.ts";
import { call } from "../helpers/server_process.ts";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

const TEMPLATE = `DB_PASSWORD={{ secret "secret/data/web/db" "password" }}
DB_USER={{ secret "secret/data/web/db" "user" | default "app" }}
`;

interface World extends AgentWorld {
  dest: string;
  reloads: string;
}

/** The shared world plus a template rendered to `dest` whose reload appends to `reloads`. */
function withWorld(config: Record<string, unknown>, f: (w: World) => Promise<void>): Promise<void> {
  const paths = (dir: string) => ({ dest: `${dir}/out/app.env`, reloads: `${dir}/reloads.log` });
  return withAgentWorld({
    config: async (dir) => {
      const { dest, reloads } = paths(dir);
      await Deno.mkdir(`${dir}/out`);
      return {
        templates: [{
          contents: TEMPLATE,
          destination: dest,
          mode: "0640",
          reload: { command: ["bash", "-c", `echo reloaded >> ${reloads}`] },
        }],
        ...config,
      };
    },
  }, (w) => f({ ...w, ...paths(w.dir) }));
}

const readText = (f: string) => Deno.readTextFile(f).catch(() => "");
const countLines = async (f: string) => (await readText(f)).split("\n").filter(Boolean).length;

const online = agentOnline;

Deno.test("agent: bootstraps, renders the template, serves the socket, deletes the secret-id", async () => {
  await withWorld({}, async (w) => {
    await waitFor(async () => (await readText(w.dest)).includes("s3cret-v1"), 15_000, "render");
    assert.equal(await readText(w.dest), "DB_PASSWORD=s3cret-v1\nDB_USER=app\n");
    assert.equal((await Deno.stat(w.dest)).mode! & 0o777, 0o640);
    // Single-use credential gone; key and certificate private to the agent.
    await assert.rejects(Deno.stat(`${w.agent.dir}/secret_id`), Deno.errors.NotFound);
    for (const f of ["agent.key", "agent.crt"]) {
      assert.equal((await Deno.stat(`${w.agent.dir}/state/identity/${f}`)).mode! & 0o777, 0o600);
    }
    // Without the chmod the socket would carry the umask's bits (0755 under umask 022).
    const sock = await Deno.lstat(w.agent.socket);
    assert.ok(sock.isSocket);
    assert.equal(sock.mode! & 0o777, 0o660);
    const r = await w.agent.get("secret/data/web/db");
    assert.equal(r.status, 200);
    assert.equal(r.body.data.data.password, "s3cret-v1");
    assert.equal(r.body.data.metadata.version, 1);
    const st = await w.agent.get("agent/status", "");
    assert.equal(st.body.online, true);
    assert.equal(st.body.agent_id, "edge-1");
    // The core lists the connected agent.
    const list = await call(
      w.core.url,
      "GET",
      "/v1/sys/agents/edge-1",
      undefined,
      w.core.rootToken,
    );
    assert.equal(list.status, 200);
    assert.equal(list.body.data.connected, true);
  });
});

Deno.test("agent: the socket refuses an unknown token and paths outside the app's list", async () => {
  await withWorld({}, async (w) => {
    await waitFor(() => online(w.agent), 15_000, "online");
    assert.equal((await w.agent.get("secret/data/web/db", "not-a-token-at-all")).status, 403);
    assert.equal((await w.agent.get("secret/data/web/db", "")).status, 403);
    assert.equal((await w.agent.get("secret/data/ops/root")).status, 403);
    assert.equal((await w.agent.get("sys/seal-status")).status, 403);
    // A path the URL parser cannot normalise away is refused before any lookup.
    assert.equal((await w.agent.get("secret/data/web/a%00b")).status, 400);
    // Inside the app's paths, but core's policy for the agent says no: relayed, not cached.
    const mine = await w.agent.get("secret/data/web/db");
    assert.equal(mine.status, 200);
  });
});

Deno.test("agent: a write is pushed and re-rendered within 2 s, reload runs once; same content → no write", async () => {
  await withWorld({}, async (w) => {
    await waitFor(async () => (await readText(w.dest)).includes("s3cret-v1"), 15_000, "render");
    await waitFor(async () => await countLines(w.reloads) === 1, 5_000, "first reload");
    const t0 = Date.now();
    await writeSecret(w.core, "web/db", { password: "s3cret-v2" });
    const took = await waitFor(
      async () => (await readText(w.dest)).includes("s3cret-v2"),
      2_000,
      "push",
    );
    assert.ok(Date.now() - t0 < 2_000, `pushed in ${took} ms`);
    await waitFor(async () => await countLines(w.reloads) === 2, 5_000, "second reload");
    const mtime = (await Deno.stat(w.dest)).mtime!.getTime();
    // A new version with the same rendered content: no write, no reload.
    await writeSecret(w.core, "web/db", { password: "s3cret-v2" });
    await waitFor(
      async () => {
        const r = await w.agent.get("secret/data/web/db");
        return r.body?.data?.metadata?.version === 3;
      },
      5_000,
      "version 3 in the cache",
    );
    // Versioned reads go to core and leave the cached (latest) version alone.
    const v1 = await w.agent.get("secret/data/web/db?version=1");
    assert.equal(v1.status, 200, JSON.stringify(v1.body));
    assert.equal(v1.body.data.data.password, "s3cret-v1");
    assert.equal(v1.body.data.metadata.version, 1);
    const v2 = await w.agent.get("secret/data/web/db?version=2");
    assert.equal(v2.body.data.metadata.version, 2);
    assert.equal((await w.agent.get("secret/data/web/db?version=x")).status, 400);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await w.agent.get("secret/data/web/db")).body.data.metadata.version, 3);
    assert.equal((await Deno.stat(w.dest)).mtime!.getTime(), mtime);
    assert.equal(await countLines(w.reloads), 2);
  });
});

Deno.test("agent: core down → cache serves; agent restart while down → disk cache serves; core back → reconnects", async () => {
  await withWorld({}, async (w) => {
    await waitFor(() => online(w.agent), 15_000, "online");
    assert.equal((await w.agent.get("secret/data/web/db")).status, 200);
    await w.core.kill("SIGKILL");
    await waitFor(async () => !(await online(w.agent)), 10_000, "offline");
    const cached = await w.agent.get("secret/data/web/db");
    assert.equal(cached.status, 200);
    assert.equal(cached.body.data.data.password, "s3cret-v1");
    assert.match(cached.body.warnings[0], /agent cache/);
    // Not cached and core unreachable: an honest 503, not a guess.
    assert.equal((await w.agent.get("secret/data/web/other")).status, 503);
    // Only the latest version is cached; an older one needs core.
    assert.equal((await w.agent.get("secret/data/web/db?version=1")).status, 503);

    await w.agent.kill("SIGTERM");
    await w.agent.restart();
    const afterReboot = await w.agent.get("secret/data/web/db");
    assert.equal(afterReboot.status, 200);
    assert.equal(afterReboot.body.data.data.password, "s3cret-v1");
    // The persistent cache holds neither the value nor the path in clear.
    for await (const e of Deno.readDir(`${w.agent.dir}/state/cache`)) {
      const bytes = await Deno.readFile(`${w.agent.dir}/state/cache/${e.name}`);
      const text = new TextDecoder("latin1").decode(bytes);
      assert.ok(!text.includes("s3cret-v1") && !text.includes("web/db"), e.name);
    }

    await w.core.restart();
    // backoff_max is 1 s here: a few seconds covers a busy CI machine, a minute-long backoff not.
    await waitFor(() => online(w.agent), 8_000, "reconnect");
    await writeSecret(w.core, "web/db", { password: "after-restart" });
    await waitFor(async () => (await readText(w.dest)).includes("after-restart"), 10_000, "push");
  });
});

Deno.test("agent: an expired identity re-bootstraps and the disk cache follows the new key", async () => {
  await withWorld({}, async (w) => {
    await waitFor(() => online(w.agent), 15_000, "online");
    assert.equal((await w.agent.get("secret/data/web/db")).status, 200);
    await w.agent.kill("SIGTERM");
    // A device that was off longer than its certificate lives: same key, certificate expired.
    const idDir = `${w.agent.dir}/state/identity`;
    const key = await importPkcs8(await Deno.readTextFile(`${idDir}/agent.key`));
    const expired = await x509.X509CertificateGenerator.createSelfSigned({
      name: "CN=edge-1",
      notBefore: new Date(Date.now() - 4 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
      keys: key,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    });
    await Deno.writeTextFile(`${idDir}/agent.crt`, expired.toString("pem"));
    await Deno.writeTextFile(`${w.agent.dir}/secret_id`, await w.newSecretId());
    const oldKey = await Deno.readTextFile(`${idDir}/agent.key`);
    await w.agent.restart();
    await waitFor(() => online(w.agent), 15_000, "online after re-bootstrap");
    assert.notEqual(await Deno.readTextFile(`${idDir}/agent.key`), oldKey);

    // Offline restart: only a cache rewritten under the new key can still be read.
    await w.core.kill("SIGKILL");
    await w.agent.kill("SIGTERM");
    await w.agent.restart();
    const r = await w.agent.get("secret/data/web/db");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.data.data.password, "s3cret-v1");
  });
});

async function importPkcs8(pem: string): Promise<CryptoKeyPair> {
  const der = Uint8Array.from(
    atob(pem.replace(/-----[^-]+-----|\s/g, "")),
    (c) => c.charCodeAt(0),
  );
  const alg = { name: "ECDSA", namedCurve: "P-256" };
  const privateKey = await crypto.subtle.importKey("pkcs8", der, alg, true, ["sign"]);
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  delete jwk.d;
  jwk.key_ops = ["verify"];
  const publicKey = await crypto.subtle.importKey("jwk", jwk, alg, true, ["verify"]);
  return { privateKey, publicKey };
}

Deno.test("agent: with cache.key_file the disk cache serves after an offline restart without the identity key", async () => {
  const keyFile = await Deno.makeTempFile({ prefix: "secrethub-cache-key-" });
  try {
    await Deno.writeFile(keyFile, crypto.getRandomValues(new Uint8Array(32)), { mode: 0o600 });
    await withWorld({ cache: { key_file: keyFile } }, async (w) => {
      await waitFor(() => online(w.agent), 15_000, "online");
      assert.equal((await w.agent.get("secret/data/web/db")).status, 200);
      await w.core.kill("SIGKILL");
      await w.agent.kill("SIGTERM");
      // With the identity gone the key file is the only key material left: the default
      // (key derived from the agent's private key) could not open this cache at all.
      await Deno.remove(`${w.agent.dir}/state/identity`, { recursive: true });
      await w.agent.restart();
      const r = await w.agent.get("secret/data/web/db");
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.data.data.password, "s3cret-v1");
      assert.match(r.body.warnings[0], /agent cache/);
    });
  } finally {
    await Deno.remove(keyFile).catch(() => {});
  }
});

Deno.test("agent: auth.wrapped unwraps a wrapped secret-id and refuses a plain one", async () => {
  const auth = { role_id_file: "role_id", secret_id_file: "secret_id", wrapped: true };
  // world() hands the agent a plain secret-id: with wrapped set, that must not log in.
  await withWorld({ auth }, async (w) => {
    const secretIdFile = `${w.agent.dir}/secret_id`;
    await waitFor(
      async () => /unwrapping/.test((await w.agent.get("agent/status", "")).body.last_error),
      10_000,
      "unwrap failure",
    );
    assert.equal((await w.agent.get("agent/status", "")).body.bootstrapped, false);
    await Deno.stat(secretIdFile); // kept for the next attempt
    await w.agent.kill("SIGTERM");
    const wrapped = await w.newWrappedSecretId();
    await Deno.writeTextFile(secretIdFile, wrapped);
    await w.agent.restart();
    await waitFor(() => online(w.agent), 15_000, "online");
    await assert.rejects(Deno.stat(secretIdFile), Deno.errors.NotFound);
    // The agent used up the single-use wrapping token.
    const again = await call(w.core.url, "POST", "/v1/sys/wrapping/unwrap", { token: wrapped });
    assert.equal(again.status, 400, JSON.stringify(again.body));
  });
});

Deno.test("agent: past max_stale the cache fails closed", async () => {
  await withWorld({ cache: { max_stale: "2s" } }, async (w) => {
    await waitFor(() => online(w.agent), 15_000, "online");
    assert.equal((await w.agent.get("secret/data/web/db")).status, 200);
    await w.core.kill("SIGKILL");
    await waitFor(async () => !(await online(w.agent)), 10_000, "offline");
    await waitFor(
      async () => (await w.agent.get("secret/data/web/db")).status === 503,
      6_000,
      "fail closed",
    );
    const r = await w.agent.get("secret/data/web/db");
    assert.match(r.body.errors[0], /max_stale/);
    assert.equal((await w.agent.get("agent/health", "")).status, 503);
  });
});

Deno.test("agent: two cores, the one it is connected to killed → it fails over to the other", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-agent-failover-" });
  const a = await startCore(`${dir}/a`);
  let b: CoreProc | null = null;
  let agent: AgentProc | null = null;
  const hostOf = (c: CoreProc) => c.agentUrl.replace("wss://", "");
  try {
    const role = await setupAgentRole(a);
    await writeSecret(a, "web/db", { password: "p1" });
    // B's addresses are reserved now; B itself starts later from a copy of A's storage that
    // already knows this agent.
    b = await startCore(`${dir}/b`, undefined, { reserveOnly: true });
    agent = await startAgent(`${dir}/agent`, {
      cores: [a, b],
      roleId: role.roleId,
      secretId: await role.secretId(),
    });
    await waitFor(() => online(agent!), 15_000, "online");
    await a.kill("SIGTERM");
    b = await startCore(`${dir}/b`, a, { ports: b });
    await a.restart();
    await waitFor(() => online(agent!), 15_000, "online again");
    const first = (await agent.get("agent/status", "")).body.connected_url as string;
    const [victim, survivor] = first.includes(hostOf(a)) ? [a, b] : [b, a];
    await victim.kill("SIGKILL");
    await waitFor(
      async () => {
        const s = await agent!.get("agent/status", "");
        return s.body.online && s.body.connected_url.includes(hostOf(survivor));
      },
      8_000,
      "failover",
    );
    const r = await agent.get("secret/data/web/db");
    assert.equal(r.status, 200);
    assert.equal(r.body.data.data.password, "p1");
  } catch (e) {
    // deno-lint-ignore no-console
    console.error("agent log:\n" + (await agent?.log() ?? "").slice(-6000));
    throw e;
  } finally {
    await agent?.kill("SIGKILL").catch(() => {});
    await b?.kill("SIGKILL").catch(() => {});
    await a.kill("SIGKILL").catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("agent: a revoked agent is disconnected and refused", async () => {
  await withWorld({}, async (w) => {
    await waitFor(() => online(w.agent), 15_000, "online");
    assert.equal((await w.agent.get("secret/data/web/db")).status, 200);
    const r = await call(
      w.core.url,
      "POST",
      "/v1/sys/agents/edge-1/revoke",
      {},
      w.core.rootToken,
    );
    assert.ok(r.status === 200 || r.status === 204, JSON.stringify(r.body));
    await waitFor(async () => !(await online(w.agent)), 5_000, "disconnected");
    // It keeps trying; it must stay refused.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await online(w.agent), false);
    const info = await call(
      w.core.url,
      "GET",
      "/v1/sys/agents/edge-1",
      undefined,
      w.core.rootToken,
    );
    assert.equal(info.body.data.status, "revoked");
    assert.equal(info.body.data.connected, false);
    // Told it is revoked, the agent stops serving and forgets what it cached, on disk too.
    assert.equal((await w.agent.get("secret/data/web/db")).status, 403);
    assert.equal((await w.agent.get("agent/health", "")).status, 503);
    assert.equal((await w.agent.get("agent/status", "")).body.revoked, true);
    assert.deepEqual([...Deno.readDirSync(`${w.agent.dir}/state/cache`)], []);
  });
});

Deno.test("agent exec: the child gets secrets as env and is restarted when they change", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-agent-exec-" });
  const core = await startCore(`${dir}/core`);
  const out = `${dir}/child.out`;
  let agent: AgentProc | null = null;
  try {
    const role = await setupAgentRole(core);
    await writeSecret(core, "web/db", { password: "env-v1", user: "svc" });
    agent = await startAgent(`${dir}/agent`, {
      cores: [core],
      roleId: role.roleId,
      secretId: await role.secretId(),
      config: {
        exec: {
          command: [
            "bash",
            "-c",
            `echo "$DB_PASSWORD $APP_SECRETS__USER" >> ${out}; exec sleep 30`,
          ],
          env: { DB_PASSWORD: "secret/data/web/db#password" },
          env_prefix: "APP_SECRETS__",
          prefix_paths: ["secret/data/web/db"],
        },
      },
    });
    await waitFor(
      async () => (await readText(out)).includes("env-v1 svc"),
      15_000,
      "child started",
    );
    await writeSecret(core, "web/db", { password: "env-v2", user: "svc" });
    await waitFor(
      async () => (await readText(out)).includes("env-v2 svc"),
      5_000,
      "child restarted",
    );
    assert.equal(await readText(out), "env-v1 svc\nenv-v2 svc\n");
  } catch (e) {
    // deno-lint-ignore no-console
    console.error("agent log:\n" + (await agent?.log() ?? "").slice(-6000));
    throw e;
  } finally {
    await agent?.kill("SIGTERM").catch(() => {});
    await core.kill("SIGKILL").catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("agent: kill -9 while rendering never leaves a partial destination file", async () => {
  const big = (tag: string) => tag + "x".repeat(2 * 1024 * 1024) + tag;
  const dir = await Deno.makeTempDir({ prefix: "secrethub-agent-crash-" });
  const core = await startCore(`${dir}/core`);
  const dest = `${dir}/big.txt`;
  let agent: AgentProc | null = null;
  try {
    const role = await setupAgentRole(core);
    await writeSecret(core, "web/db", { password: big("A") });
    agent = await startAgent(`${dir}/agent`, {
      cores: [core],
      roleId: role.roleId,
      secretId: await role.secretId(),
      config: {
        templates: [{
          contents: `{{ secret "secret/data/web/db" "password" }}`,
          destination: dest,
        }],
      },
    });
    await waitFor(async () => (await readText(dest)).length === big("A").length, 15_000, "render");
    const valid = new Set([big("A")]);
    for (let i = 0; i < 4; i++) {
      const tag = String.fromCharCode(66 + i);
      valid.add(big(tag));
      await writeSecret(core, "web/db", { password: big(tag) });
      // Somewhere inside the push → fetch → render → rename window.
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 60));
      await agent.kill("SIGKILL");
      const content = await readText(dest);
      assert.ok(valid.has(content), `partial file after kill (length ${content.length})`);
      await agent.restart();
      await waitFor(async () => (await readText(dest)) === big(tag), 15_000, "catch up");
    }
    const leftovers = [...Deno.readDirSync(dir)].filter((e) => e.name.includes("tmp"));
    assert.deepEqual(leftovers, []);
  } catch (e) {
    // deno-lint-ignore no-console
    console.error("agent log:\n" + (await agent?.log() ?? "").slice(-6000));
    throw e;
  } finally {
    await agent?.kill("SIGKILL").catch(() => {});
    await core.kill("SIGKILL").catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
