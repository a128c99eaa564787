/** `secrethub server`: dev mode or a config file. */
import { FlagError, parseFlags } from "../lib/flags.ts";
import { type FileConfig, normalizeLogLevel, parseConfig } from "./config.ts";
import { bindListener, type BoundListener, createCore, type RunningServer } from "./server.ts";
import { isLogLevel, log, logLevelProblem, setLogLevel } from "./log.ts";
import { decodeShare } from "./seal/seal.ts";
import { AgentListener } from "./agents/listener.ts";
import { bindProblem, fsProblem, readListenerTls, StartupError } from "./startup.ts";
import { lockStorageDir, type StorageLock } from "./storage/dir_lock.ts";
import { addressProblem, parseAddress } from "./listen_address.ts";
import type { Core } from "./core.ts";

/** Binds `address` and lets it go again: a taken port fails now, as a StartupError. */
function probeBind(label: string, address: string): void {
  const { hostname, port } = parseAddress(address);
  if (port === 0) return;
  try {
    Deno.listen({ hostname, port }).close();
  } catch (e) {
    throw new StartupError(bindProblem(label, address, e));
  }
}

function say(s: string): void {
  // deno-lint-ignore no-console
  console.error(s);
}

/** A failed start: one line, no stack (a StartupError's message already names key and file). */
function fail(e: unknown): number {
  say(`error: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
}

export async function runServer(argv: string[]): Promise<number> {
  let flags: Map<string, string | true>;
  try {
    flags = parseFlags(argv, {
      values: [
        "config",
        "dev-root-token-id",
        "dev-listen-address",
        "dev-agent-listen-address",
        "log-level",
      ],
      booleans: ["dev"],
    }).flags;
  } catch (e) {
    if (e instanceof FlagError) return fail(e);
    throw e;
  }
  const dev = flags.get("dev") === true;
  const configFile = flags.get("config");
  if (dev && typeof configFile === "string") {
    return fail("-dev and -config cannot be used together");
  }
  // Vault's order: the flag, then the environment, then the config file. A level nobody knows
  // is a startup error wherever it comes from.
  const flagLevel = flags.get("log-level");
  const envLevel = Deno.env.get("SECRETHUB_LOG_LEVEL") || undefined;
  const [given, from] = typeof flagLevel === "string"
    ? [flagLevel, "-log-level"]
    : [envLevel, "SECRETHUB_LOG_LEVEL"];
  const level = given === undefined ? undefined : normalizeLogLevel(given);
  if (level !== undefined) {
    if (!isLogLevel(level)) return fail(`${from}: ${logLevelProblem(given!)}`);
    setLogLevel(level);
  }
  if (dev) return await runDev(flags);
  if (typeof configFile !== "string") return fail("server needs -config FILE (or -dev)");
  return await runConfigured(configFile, level !== undefined);
}

/** Addresses given on the command line (or env) are checked before anything is created. */
function checkAddress(label: string, address: string): void {
  const bad = addressProblem(address);
  if (bad) throw new StartupError(`${label}: ${bad}`);
}

async function runDev(flags: Map<string, string | true>): Promise<number> {
  const listenFlag = flags.get("dev-listen-address");
  const envListen = Deno.env.get("SECRETHUB_DEV_LISTEN_ADDRESS");
  const [listen, listenLabel] = typeof listenFlag === "string"
    ? [listenFlag, "-dev-listen-address"]
    : envListen
    ? [envListen, "SECRETHUB_DEV_LISTEN_ADDRESS"]
    : ["127.0.0.1:8200", "-dev-listen-address"];
  const agentFlag = flags.get("dev-agent-listen-address");
  const agentAddress = typeof agentFlag === "string" ? agentFlag : "127.0.0.1:8201";
  const rootId = flags.get("dev-root-token-id");

  let dir: string | undefined;
  let bound: BoundListener | undefined;
  let lock: StorageLock | undefined;
  let agents: AgentListener | undefined;
  let srv: RunningServer;
  let hubCore: Core;
  let banner: string;
  try {
    checkAddress(listenLabel, listen);
    checkAddress("-dev-agent-listen-address", agentAddress);
    bound = bindListener(listen, undefined, listenLabel);
    // The agent listener can only start once the core is unsealed; a port already taken is
    // found here, before init and unseal log their lines, so the error stays the only line.
    probeBind("-dev-agent-listen-address", agentAddress);
    dir = await Deno.makeTempDir({ prefix: "secrethub-dev-" });
    lock = await lockStorageDir(dir, "dev storage");
    const { core, app } = await createCore(`${dir}/secrethub.db`);
    hubCore = core;
    const init = await core.init(1, 1, typeof rootId === "string" ? rootId : undefined);
    await core.unseal(decodeShare(init.keys_base64[0]!));
    // Made after the unseal so that its first start is this one, whose error ends the start.
    agents = new AgentListener(core, { address: agentAddress });
    try {
      await agents.start();
    } catch (e) {
      throw new StartupError(bindProblem("-dev-agent-listen-address", agentAddress, e));
    }
    srv = bound.attach(core, app);
    banner = [
      "WARNING! dev mode is enabled! In this mode, SecretHub runs on temporary storage",
      "and starts unsealed with a single unseal key. Do not use it in production.",
      "",
      "You may need to set the following environment variable:",
      `    export SECRETHUB_ADDR='${srv.url}'`,
      "",
      `Unseal Key: ${init.keys_base64[0]}`,
      `Root Token: ${init.root_token}`,
      `Storage:    ${dir}`,
      `Agent listener: ${agents.current?.url ?? "(not running)"}`,
      "",
    ].join("\n");
  } catch (e) {
    await agents?.close().catch(() => {});
    await bound?.close().catch(() => {});
    lock?.release();
    if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    return fail(e);
  }
  say(banner);
  // As a configured server: without a listener SIGHUP would end the process, storage left behind.
  const reopen = () => reopenAuditFiles(hubCore);
  Deno.addSignalListener("SIGHUP", reopen);
  await waitForSignal();
  Deno.removeSignalListener("SIGHUP", reopen);
  await stop(srv, agents);
  lock.release();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  return 0;
}

/**
 * Everything that can be checked is checked before the storage is opened, in this order: the
 * config file, the listen addresses, the TLS files, binding the listener (port in use, the TLS
 * library's verdict on the certificate and key), the storage lock. A start that fails on any of
 * them creates no database.
 */
async function runConfigured(configFile: string, levelGiven: boolean): Promise<number> {
  let bound: BoundListener | undefined;
  let cfg: FileConfig;
  let srv: RunningServer;
  let agents: AgentListener | null;
  let lock: StorageLock;
  let hubCore: Core;
  try {
    let text: string;
    try {
      text = await Deno.readTextFile(configFile);
    } catch (e) {
      throw new StartupError(`config file ${configFile}: ${fsProblem(e)}`);
    }
    cfg = parseConfig(text, configFile);
    if (cfg.log_level && !levelGiven) setLogLevel(cfg.log_level);
    const { tls_cert_file: certFile, tls_key_file: keyFile } = cfg.listener;
    const tls = certFile && keyFile ? await readListenerTls(certFile, keyFile) : undefined;
    const label = Deno.env.get("SECRETHUB_LISTEN_ADDRESS")
      ? "SECRETHUB_LISTEN_ADDRESS"
      : "listener.address";
    bound = bindListener(cfg.listener.address, tls, label);
    // The agent listener starts only at unseal, where a taken port could only be logged: it is
    // checked now, while the start can still fail with one line.
    if (!cfg.agent_listener?.disable) {
      probeBind("agent_listener.address", cfg.agent_listener?.address ?? "0.0.0.0:8201");
    }
    // Held until shutdown; if the process dies instead, the kernel releases it.
    lock = await lockStorageDir(cfg.storage.path);
    const { core, app } = await createCore(`${cfg.storage.path}/secrethub.db`, {
      maxRequestSize: cfg.max_request_size,
      requestTimeoutMs: cfg.request_timeout ? cfg.request_timeout * 1000 : undefined,
      clusterName: cfg.cluster_name,
      trustedProxies: cfg.trusted_proxies,
      alertWebhookUrl: cfg.alert_webhook_url,
    });
    hubCore = core;
    agents = cfg.agent_listener?.disable ? null : new AgentListener(core, {
      address: cfg.agent_listener?.address ?? "0.0.0.0:8201",
      hosts: cfg.agent_listener?.hosts,
    });
    srv = bound.attach(core, app);
  } catch (e) {
    await bound?.close().catch(() => {});
    return fail(e);
  }
  say(`SecretHub server listening on ${srv.url}`);
  const reopen = () => reopenAuditFiles(hubCore);
  Deno.addSignalListener("SIGHUP", reopen);
  await waitForSignal();
  Deno.removeSignalListener("SIGHUP", reopen);
  await stop(srv, agents);
  lock.release();
  return 0;
}

/**
 * The shutdown after SIGTERM/SIGINT, as Vault drains: new requests are refused at once (503,
 * `Connection: close`), requests in flight, including ones still uploading their body, get up
 * to SHUTDOWN_GRACE_MS to finish, and whatever is still running then is answered 503; a second
 * signal ends the wait at once. Then the listener closes and the storage, after its queued
 * writes, so everything answered 200 is on disk.
 */
async function stop(srv: RunningServer, agents: AgentListener | null): Promise<void> {
  log.info("shutting down");
  const drained = srv.drain();
  const hurry = () => srv.hurry();
  Deno.addSignalListener("SIGINT", hurry);
  Deno.addSignalListener("SIGTERM", hurry);
  try {
    await agents?.close();
    await drained;
    await srv.shutdown();
  } finally {
    Deno.removeSignalListener("SIGINT", hurry);
    Deno.removeSignalListener("SIGTERM", hurry);
  }
}

/**
 * SIGHUP, as in Vault: file audit devices close and reopen their files, so logrotate can move
 * a log away and the next record goes to a new file at the configured path. Sealed, there are
 * no devices open; the next unseal opens them at their paths anyway.
 */
function reopenAuditFiles(core: Core): void {
  if (core.sealed) {
    log.info("SIGHUP: sealed, no audit files to reopen");
    return;
  }
  core.audit.reopen();
  log.info("SIGHUP: reopened audit device files", { devices: core.audit.sinks().length });
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      Deno.removeSignalListener("SIGINT", done);
      Deno.removeSignalListener("SIGTERM", done);
      resolve();
    };
    Deno.addSignalListener("SIGINT", done);
    Deno.addSignalListener("SIGTERM", done);
  });
}
export { offlineAuditVerify } from "./audit/offline.ts";
