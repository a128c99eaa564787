/** The server's JSON config file, validated at startup; errors name the file and the key. */
import { isLogLevel, logLevelProblem } from "./log.ts";
import * as v from "valibot";
import type { ServerConfig } from "./server.ts";
import { parseCidr } from "../lib/cidr.ts";
import { addressProblem } from "./listen_address.ts";

/**
 * A boolean as Vault's config reads it (parseutil.ParseBool, mapstructure's weak decoding): true
 * or false, a string Go's strconv.ParseBool takes ("" is false), or an integer (non-zero is true).
 */
const weakBool = v.pipe(
  v.union(
    [v.boolean(), v.string(), v.pipe(v.number(), v.integer())],
    'must be true or false, "true"/"false"/"1"/"0" or an integer',
  ),
  v.rawTransform<boolean | string | number, boolean>(({ dataset, addIssue, NEVER }) => {
    const x = dataset.value;
    if (typeof x === "boolean") return x;
    if (typeof x === "number") return x !== 0;
    if (["1", "t", "T", "TRUE", "true", "True"].includes(x)) return true;
    if (["", "0", "f", "F", "FALSE", "false", "False"].includes(x)) return false;
    addIssue({ message: `invalid boolean ${JSON.stringify(x.slice(0, 32))}` });
    return NEVER;
  }),
);

/** Vault lowercases the level wherever it comes from: "INFO" is "info". */
export function normalizeLogLevel(level: string): string {
  return level.trim().toLowerCase();
}

const schema = v.strictObject({
  listener: v.strictObject({
    address: v.optional(v.string(), "127.0.0.1:8200"),
    tls_cert_file: v.optional(v.string()),
    tls_key_file: v.optional(v.string()),
    tls_disable: v.optional(weakBool),
  }),
  storage: v.strictObject({ path: v.pipe(v.string(), v.minLength(1)) }),
  agent_listener: v.optional(v.strictObject({
    address: v.optional(v.string(), "0.0.0.0:8201"),
    hosts: v.optional(v.array(v.pipe(v.string(), v.minLength(1)))),
    disable: v.optional(v.boolean(), false),
  })),
  max_request_size: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1024))),
  request_timeout: v.optional(v.pipe(v.number(), v.minValue(1))),
  log_level: v.optional(
    v.pipe(
      v.string(),
      v.transform(normalizeLogLevel),
      v.picklist(["debug", "info", "warn", "error"]),
    ),
  ),
  cluster_name: v.optional(v.string()),
  trusted_proxies: v.optional(v.array(v.string())),
  alert_webhook_url: v.optional(v.pipe(v.string(), v.url("alert_webhook_url must be a URL"))),
});

export type FileConfig = v.InferOutput<typeof schema> & ServerConfig;

export function parseConfig(text: string, file: string): FileConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new Error(`${file}: the config must be a JSON object`);
  }
  const r = v.safeParse(schema, raw);
  if (!r.success) throw new Error(`${file}: ${issueText(r.issues[0]!)}`);
  const c = r.output;
  for (const p of c.trusted_proxies ?? []) {
    try {
      parseCidr(p);
    } catch {
      throw new Error(`${file}: invalid config key "trusted_proxies": bad CIDR "${p}"`);
    }
  }
  if (!!c.listener.tls_cert_file !== !!c.listener.tls_key_file) {
    throw new Error(`${file}: listener.tls_cert_file and listener.tls_key_file go together`);
  }
  // Environment overrides for the keys operators most often change per host.
  const envAddr = Deno.env.get("SECRETHUB_LISTEN_ADDRESS");
  const badAddr = addressProblem(c.listener.address);
  if (badAddr && !envAddr) {
    throw new Error(`${file}: invalid config key "listener.address": ${badAddr}`);
  }
  if (envAddr) {
    const bad = addressProblem(envAddr);
    if (bad) throw new Error(`SECRETHUB_LISTEN_ADDRESS: ${bad}`);
    c.listener.address = envAddr;
  }
  const badAgentAddr = c.agent_listener ? addressProblem(c.agent_listener.address) : null;
  if (badAgentAddr) {
    throw new Error(`${file}: invalid config key "agent_listener.address": ${badAgentAddr}`);
  }
  const envRaw = Deno.env.get("SECRETHUB_LOG_LEVEL");
  if (envRaw) {
    const envLevel = normalizeLogLevel(envRaw);
    if (!isLogLevel(envLevel)) throw new Error(`SECRETHUB_LOG_LEVEL: ${logLevelProblem(envRaw)}`);
    c.log_level = envLevel;
  }
  return c as FileConfig;
}

/** One schema issue as a line: a missing or unknown key by name, else the key and the problem. */
function issueText(i: v.BaseIssue<unknown>): string {
  const key = i.path?.map((p) => String(p.key)).join(".") ?? "(root)";
  if (i.type === "strict_object" && i.expected === "never") return `unknown config key "${key}"`;
  if (i.type === "strict_object" && i.received === "undefined") {
    return `missing required config key "${key}"`;
  }
  return `invalid config key "${key}": ${i.message}`;
}
