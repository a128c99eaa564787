/**
 * Real processes for agent tests: core (`main.ts server -config`, initialised and unsealed over
 * HTTP, agent listener on its own port) and agent (`main.ts agent -config`), on 127.0.0.1, with
 * files in a temp dir. Logs go to files in that dir so a failing test can show them.
 */
import { call, freePort, MAIN, type ServerProcess, startServerProcess } from "./server_process.ts";
import type { Json } from "./test_core.ts";

export interface CoreProc {
  url: string;
  agentUrl: string;
  dir: string;
  rootToken: string;
  unsealKey: string;
  proc: ServerProcess;
  /** Starts the same core again (same storage, same ports) and unseals it. */
  restart(): Promise<void>;
  kill(signal?: Deno.Signal): Promise<void>;
}

/**
 * `replicaOf`: start a second core on a copy of a stopped core's storage (same keys, same
 * identity CA, same agent records), as a restored replica would be. Two live processes cannot
 * share one libSQL file (each keeps its own audit chain head), so this is how the tests get two
 * cores an agent trusts equally.
 */
export async function startCore(
  dir: string,
  replicaOf?: CoreProc,
  o: { reserveOnly?: boolean; ports?: CoreProc } = {},
): Promise<CoreProc> {
  await Deno.mkdir(dir, { recursive: true });
  const port = o.ports ? Number(new URL(o.ports.url).port) : freePort();
  const agentPort = o.ports ? Number(new URL(o.ports.agentUrl).port) : freePort();
  const url = `http://127.0.0.1:${port}`;
  if (o.reserveOnly) {
    // Addresses only, for a config that must name a core before it exists.
    const none = async () => {};
    return {
      url,
      agentUrl: `wss://127.0.0.1:${agentPort}`,
      dir,
      rootToken: "",
      unsealKey: "",
      proc: null as unknown as ServerProcess,
      restart: none,
      kill: none,
    };
  }
  if (replicaOf) await copyDir(`${replicaOf.dir}/data`, `${dir}/data`);
  const logFile = `${dir}/core.log`;
  const proc = await startServerProcess(dir, port, { agentPort, logFile });
  let rootToken = replicaOf?.rootToken ?? "";
  let unsealKey = replicaOf?.unsealKey ?? "";
  if (!replicaOf) {
    const init = await call(url, "PUT", "/v1/sys/init", { secret_shares: 1, secret_threshold: 1 });
    if (init.status !== 200) throw new Error(`init: ${JSON.stringify(init.body)}`);
    unsealKey = init.body.keys_base64[0];
    rootToken = init.body.root_token;
  }
  const c: CoreProc = {
    url,
    agentUrl: `wss://127.0.0.1:${agentPort}`,
    dir,
    rootToken,
    unsealKey,
    proc,
    async restart() {
      c.proc = await startServerProcess(dir, port, { agentPort, logFile });
      await unseal(url, unsealKey);
    },
    kill: (s) => c.proc.kill(s),
  };
  await unseal(url, unsealKey);
  return c;
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isFile) await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

async function unseal(url: string, key: string): Promise<void> {
  const r = await call(url, "PUT", "/v1/sys/unseal", { key });
  if (r.status !== 200 || r.body.sealed) throw new Error(`unseal: ${JSON.stringify(r.body)}`);
  await waitFor(
    async () => {
      // The agent listener starts right after unseal; the CA being served means identity is up.
      const ca = await fetch(`${url}/v1/sys/agent/ca`);
      const t = await ca.text();
      return ca.status === 200 && t.includes("BEGIN CERTIFICATE");
    },
    10_000,
    "agent CA",
  );
}

export const AGENT_POLICY = `
path "secret/data/web/*" { capabilities = ["read"] }
path "pki/agent/issue" { capabilities = ["update"] }
`;

/**
 * AppRole role "edge" whose tokens may read secret/data/web/* and get an agent certificate.
 * `wrappedSecretId` returns a response-wrapping token holding a fresh secret-id (`auth.wrapped`).
 */
export async function setupAgentRole(
  core: CoreProc,
): Promise<
  { roleId: string; secretId: () => Promise<string>; wrappedSecretId: () => Promise<string> }
> {
  const t = core.rootToken;
  const must = async (m: string, p: string, b?: unknown) => {
    const r = await call(core.url, m, p, b, t);
    if (r.status >= 300) throw new Error(`${m} ${p}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  await must("POST", "/v1/sys/auth/approle", { type: "approle" });
  await must("PUT", "/v1/sys/policies/acl/edge", { policy: AGENT_POLICY });
  await must("POST", "/v1/auth/approle/role/edge", { token_policies: ["edge"], token_ttl: "1h" });
  const roleId = (await must("GET", "/v1/auth/approle/role/edge/role-id")).data.role_id;
  return {
    roleId,
    secretId: async () =>
      (await must("POST", "/v1/auth/approle/role/edge/secret-id", {})).data.secret_id,
    wrappedSecretId: async () => {
      const r = await fetch(`${core.url}/v1/auth/approle/role/edge/secret-id`, {
        method: "POST",
        headers: {
          "x-vault-token": t,
          "x-vault-wrap-ttl": "5m",
          "content-type": "application/json",
        },
        body: "{}",
      });
      const body = await r.json();
      const token = body?.wrap_info?.token;
      if (r.status !== 200 || typeof token !== "string" || body.data !== null) {
        throw new Error(`wrapped secret-id: ${r.status} ${JSON.stringify(body)}`);
      }
      return token;
    },
  };
}

export async function writeSecret(core: CoreProc, path: string, data: Record<string, string>) {
  const r = await call(core.url, "POST", `/v1/secret/data/${path}`, { data }, core.rootToken);
  if (r.status !== 200) throw new Error(`write ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data.version as number;
}

export interface AgentProc {
  dir: string;
  socket: string;
  configFile: string;
  appToken: string;
  child: Deno.ChildProcess;
  /** GET over the Unix socket. */
  get(path: string, token?: string): Promise<{ status: number; body: Json }>;
  /** Starts the agent again with the same config. */
  restart(): Promise<void>;
  kill(signal?: Deno.Signal): Promise<void>;
  log(): Promise<string>;
}

export interface AgentSetup {
  cores: CoreProc[];
  roleId: string;
  secretId: string;
  /** Extra config merged over the defaults (templates, cache, …). */
  config?: Record<string, unknown>;
  /** Program to run instead of main.ts (the bench runs a bundle of the agent). */
  entry?: string;
}

export async function startAgent(dir: string, s: AgentSetup): Promise<AgentProc> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/role_id`, s.roleId);
  await Deno.writeTextFile(`${dir}/secret_id`, s.secretId);
  const socket = `${dir}/agent.sock`;
  const cfg = {
    core: {
      addresses: s.cores.map((c) => c.url),
      agent_addresses: s.cores.map((c) => c.agentUrl),
    },
    auth: { role_id_file: "role_id", secret_id_file: "secret_id" },
    agent_id: "edge-1",
    state_dir: "state",
    listener: { socket, mode: "0660" },
    apps: [{ name: "web", token_file: "web.token", paths: ["secret/data/web/*"] }],
    link: { backoff_initial: "200ms", backoff_max: "1s", heartbeat: "2s" },
    ...s.config,
  };
  const configFile = `${dir}/agent.json`;
  await Deno.writeTextFile(configFile, JSON.stringify(cfg, null, 2));
  const http = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  const a: AgentProc = {
    dir,
    socket,
    configFile,
    appToken: "",
    child: null as unknown as Deno.ChildProcess,
    async get(path, token = a.appToken) {
      const r = await fetch(`http://agent/v1/${path}`, {
        headers: token ? { "x-vault-token": token } : {},
        client: http,
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    },
    async restart() {
      a.child = spawnAgent(s.entry ?? MAIN, configFile, `${dir}/agent.log`);
      await waitForSocket(a);
    },
    async kill(signal: Deno.Signal = "SIGTERM") {
      try {
        a.child.kill(signal);
      } catch { /* gone */ }
      await a.child.status;
    },
    log: () => Deno.readTextFile(`${dir}/agent.log`).catch(() => ""),
  };
  await a.restart();
  a.appToken = (await Deno.readTextFile(`${dir}/web.token`)).trim();
  return a;
}

function spawnAgent(entry: string, configFile: string, logFile: string): Deno.ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", entry, "agent", "-config", configFile, "-log-level", "debug"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Chunk by chunk: pipeTo into the file's writable wrote nothing until the pipe closed, so a
  // test reading the log of a running agent saw an empty file.
  void Deno.open(logFile, { append: true, create: true }).then(async (f) => {
    for await (const chunk of child.stderr) {
      for (let off = 0; off < chunk.length;) off += await f.write(chunk.subarray(off));
    }
    f.close();
  }).catch(() => {});
  return child;
}

async function waitForSocket(a: AgentProc): Promise<void> {
  await waitFor(
    async () => {
      try {
        const r = await a.get("agent/health", "");
        return r.status === 200 || r.status === 503;
      } catch {
        return false;
      }
    },
    20_000,
    "agent socket",
  );
}

export async function waitFor(
  f: () => Promise<boolean>,
  ms: number,
  what: string,
  stepMs = 50,
): Promise<number> {
  const start = Date.now();
  for (;;) {
    try {
      if (await f()) return Date.now() - start;
    } catch {
      // Not yet.
    }
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** The agent says its link to core is up. */
export async function agentOnline(a: AgentProc): Promise<boolean> {
  const s = await a.get("agent/status", "");
  return s.status === 200 && s.body.online === true;
}

export interface AgentWorld {
  dir: string;
  core: CoreProc;
  agent: AgentProc;
  newSecretId(): Promise<string>;
  newWrappedSecretId(): Promise<string>;
}

/**
 * A core (with the agent role and `secret/data/web/db` written) and an agent bootstrapped
 * against it, as real processes in a temp dir; the agent's log is printed when `f` fails, and
 * everything is killed and removed afterwards. `beforeAgent` runs between the core's setup and
 * the agent's start (e.g. to take core down first).
 */
export async function withAgentWorld(
  o: {
    prefix?: string;
    secret?: Record<string, string>;
    config?: (dir: string) => Promise<Record<string, unknown>> | Record<string, unknown>;
    beforeAgent?: (core: CoreProc) => Promise<void>;
  },
  f: (w: AgentWorld) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: o.prefix ?? "secrethub-agent-e2e-" });
  let core: CoreProc | null = null;
  let agent: AgentProc | null = null;
  try {
    core = await startCore(`${dir}/core`);
    const role = await setupAgentRole(core);
    await writeSecret(core, "web/db", o.secret ?? { password: "s3cret-v1" });
    const secretId = await role.secretId();
    const config = await o.config?.(dir) ?? {};
    await o.beforeAgent?.(core);
    agent = await startAgent(`${dir}/agent`, {
      cores: [core],
      roleId: role.roleId,
      secretId,
      config,
    });
    await f({
      dir,
      core,
      agent,
      newSecretId: () => role.secretId(),
      newWrappedSecretId: () => role.wrappedSecretId(),
    });
  } catch (e) {
    // deno-lint-ignore no-console
    console.error("agent log:\n" + (await agent?.log() ?? "").slice(-6000));
    throw e;
  } finally {
    // SIGKILL also ends a core a test left stopped (SIGSTOP).
    await agent?.kill("SIGKILL").catch(() => {});
    await core?.kill("SIGKILL").catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
