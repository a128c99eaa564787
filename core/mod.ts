/** `secrethub server`: dev mode or a config file. */
import { FlagError, parseFlags } from "../lib/flags.ts";
import { parseConfig } from "./config.ts";
import { createCore, serve } from "./server.ts";
import { setLogLevel } from "./log.ts";
import { decodeShare } from "./seal/seal.ts";
import { AgentListener } from "./agents/listener.ts";

function say(s: string): void {
  // deno-lint-ignore no-console
  console.error(s);
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
    if (e instanceof FlagError) {
      say(`Error: ${e.message}`);
      return 1;
    }
    throw e;
  }
  const dev = flags.get("dev") === true;
  const configFile = flags.get("config");
  if (dev && typeof configFile === "string") {
    say("Error: -dev and -config cannot be used together");
    return 1;
  }
  const level = flags.get("log-level");
  if (typeof level === "string") setLogLevel(level);

  if (dev) {
    const dir = await Deno.makeTempDir({ prefix: "secrethub-dev-" });
    const { core, app } = await createCore(`${dir}/secrethub.db`);
    const agentAddress = flags.get("dev-agent-listen-address");
    const agents = new AgentListener(core, {
      address: typeof agentAddress === "string" ? agentAddress : "127.0.0.1:8201",
    });
    const rootId = flags.get("dev-root-token-id");
    const init = await core.init(1, 1, typeof rootId === "string" ? rootId : undefined);
    await core.unseal(decodeShare(init.keys_base64[0]!));
    await agents.start();
    const listen = flags.get("dev-listen-address");
    const srv = await serve(core, app, {
      address: typeof listen === "string"
        ? listen
        : Deno.env.get("SECRETHUB_DEV_LISTEN_ADDRESS") ?? "127.0.0.1:8200",
    });
    say(
      [
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
      ].join("\n"),
    );
    await waitForSignal();
    await agents.close();
    await srv.shutdown();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    return 0;
  }

  if (typeof configFile !== "string") {
    say("Error: server needs -config FILE (or -dev)");
    return 1;
  }
  let cfg;
  try {
    cfg = parseConfig(await Deno.readTextFile(configFile), configFile);
  } catch (e) {
    say(`Error: ${(e as Error).message}`);
    return 1;
  }
  if (cfg.log_level) setLogLevel(cfg.log_level);
  await Deno.mkdir(cfg.storage.path, { recursive: true, mode: 0o700 });
  const { core, app } = await createCore(`${cfg.storage.path}/secrethub.db`, {
    maxRequestSize: cfg.max_request_size,
    requestTimeoutMs: cfg.request_timeout ? cfg.request_timeout * 1000 : undefined,
    clusterName: cfg.cluster_name,
    trustedProxies: cfg.trusted_proxies,
    alertWebhookUrl: cfg.alert_webhook_url,
  });
  const agents = cfg.agent_listener?.disable ? null : new AgentListener(core, {
    address: cfg.agent_listener?.address ?? "0.0.0.0:8201",
    hosts: cfg.agent_listener?.hosts,
  });
  const srv = await serve(
    core,
    app,
    cfg.listener,
    (url) => say(`SecretHub server listening on ${url}`),
  );
  await waitForSignal();
  await agents?.close();
  await srv.shutdown();
  return 0;
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
