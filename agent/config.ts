/**
 * The agent's JSON config file (every key is documented in agent/CONFIG.md). Strict: an unknown
 * key is an error naming its full path, so a typo never silently disables a setting. Relative
 * paths are resolved against the config file's directory, not the working directory.
 */
import * as v from "valibot";
import { dirname, resolve } from "../lib/paths.ts";
import { parseDuration } from "../lib/duration.ts";
import { RELOAD_SIGNALS } from "./render/reload.ts";
import { resolveOwnerSync } from "./render/owner.ts";
import { logicalPathProblem, MAX_HEARTBEAT_MS } from "../lib/agent_protocol.ts";
import { fsProblem } from "../lib/fs_problem.ts";
import { parseTemplate, TemplateSyntaxError } from "./template/mod.ts";

export class AgentConfigError extends Error {
  /** Dotted key path, e.g. `templates[0].reload.signal`; "(root)" for the whole document. */
  readonly key: string;
  constructor(key: string, detail: string) {
    super(`Invalid config key "${key}": ${detail}`);
    this.name = "AgentConfigError";
    this.key = key;
  }

  /** A required key that is absent: worded as core's server words it. */
  static missing(key: string): AgentConfigError {
    const e = new AgentConfigError(key, "missing");
    e.message = `missing required config key "${key}"`;
    return e;
  }
}

const AGENT_ID_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

const nonEmpty = v.pipe(v.string(), v.minLength(1, "must not be empty"));

function urlWith(protocols: string[], what: string) {
  return v.pipe(
    v.string(),
    v.check((s) => {
      try {
        return protocols.includes(new URL(s).protocol);
      } catch {
        return false;
      }
    }, `must be ${what}`),
  );
}

const octalMode = (dflt: string) =>
  v.pipe(
    v.optional(v.string(), dflt),
    v.regex(/^0?[0-7]{3}$/, 'must be an octal string such as "0640"'),
    v.transform((s) => parseInt(s, 8)),
  );

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Like lib/duration.ts but keeps milliseconds ("250ms"), which the link timers need in tests. */
export function parseDurationMs(input: string | number): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0) throw new RangeError(`Invalid duration: ${input}`);
    return Math.floor(input * 1000);
  }
  const s = input.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos === 0 || pos !== s.length) throw new RangeError(`Invalid duration: "${input}"`);
  return Math.floor(total);
}

/** A duration key; `unit` says what the validated config holds (lib/duration.ts gives seconds). */
const duration = (dflt: string, unit: "s" | "ms", min = 0) =>
  v.pipe(
    v.optional(v.union([v.string(), v.number()], "must be a duration"), dflt),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      let n: number;
      try {
        n = unit === "s" ? parseDuration(dataset.value) : parseDurationMs(dataset.value);
      } catch {
        addIssue({ message: 'must be a duration such as "72h", "30s" or "250ms"' });
        return NEVER;
      }
      if (n < min) {
        addIssue({ message: `must be at least ${min}${unit}` });
        return NEVER;
      }
      return n;
    }),
  );

/** Same glob rule as policy paths, as far as the socket enforces it: "*" only at the very end. */
const pathGlob = v.pipe(
  nonEmpty,
  v.check((p) => !p.startsWith("/"), "must not start with /"),
  v.check((p) => !p.slice(0, -1).includes("*"), 'may only use "*" as the last character'),
);

const reloadCommand = v.strictObject({
  command: v.pipe(v.array(nonEmpty), v.minLength(1, "must name a program")),
});
const reloadSignal = v.pipe(
  v.strictObject({
    signal: v.picklist(RELOAD_SIGNALS, `must be one of ${RELOAD_SIGNALS.join(", ")}`),
    pid_file: v.optional(nonEmpty),
    pid: v.optional(v.pipe(v.number(), v.integer(), v.minValue(2, "must be a pid > 1"))),
  }),
  v.check(
    (r) => (r.pid_file === undefined) !== (r.pid === undefined),
    "needs exactly one of pid_file, pid",
  ),
);
const reload = v.lazy((input) =>
  typeof input === "object" && input !== null && "command" in input ? reloadCommand : reloadSignal
);

const template = v.pipe(
  v.strictObject({
    contents: v.optional(v.string()),
    source: v.optional(nonEmpty),
    destination: nonEmpty,
    mode: octalMode("0600"),
    user: v.optional(nonEmpty),
    group: v.optional(nonEmpty),
    reload: v.optional(reload),
  }),
  v.check(
    (t) => (t.contents === undefined) !== (t.source === undefined),
    "needs exactly one of contents, source",
  ),
);

/**
 * A path the agent reads and subscribes to: core refuses a subscribe frame with one bad path in
 * it, and with it the pushes for every other path, so a bad one is a config error.
 */
function secretPathIssue(p: string): string {
  return `secret path ${JSON.stringify(p)} ${logicalPathProblem(p)}`;
}
const secretPath = v.pipe(
  v.string(),
  v.check((p) => logicalPathProblem(p) === null, (i) => secretPathIssue(i.input as string)),
);

/** "path#field"; neither part may contain "#", so the split is unambiguous. */
const envRef = v.pipe(
  v.string(),
  v.regex(/^[^#]+#[^#]+$/, 'must be "path#field"'),
  v.transform((s) => {
    const i = s.lastIndexOf("#");
    return { path: s.slice(0, i), field: s.slice(i + 1) };
  }),
  v.check(
    (r) => logicalPathProblem(r.path) === null,
    (i) => secretPathIssue((i.input as { path: string }).path),
  ),
);

const schema = v.strictObject({
  core: v.strictObject({
    addresses: v.pipe(
      v.array(urlWith(["http:", "https:"], "an http:// or https:// URL")),
      v.minLength(1, "needs at least one address"),
    ),
    agent_addresses: v.pipe(
      v.array(urlWith(["wss:"], "a wss:// URL")),
      v.minLength(1, "needs at least one address"),
    ),
    ca_file: v.optional(nonEmpty),
  }),
  auth: v.strictObject({
    role_id_file: nonEmpty,
    secret_id_file: nonEmpty,
    wrapped: v.optional(v.boolean(), false),
  }),
  agent_id: v.optional(v.string()),
  state_dir: nonEmpty,
  cache: v.optional(
    v.strictObject({
      persist: v.optional(v.boolean(), true),
      max_stale: duration("72h", "s"),
      key_file: v.optional(nonEmpty),
      max_entries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 10000),
    }),
    {},
  ),
  link: v.optional(
    v.strictObject({
      backoff_initial: duration("1s", "ms", 1),
      backoff_max: duration("60s", "ms", 1),
      heartbeat: duration("30s", "ms", 1),
    }),
    {},
  ),
  listener: v.strictObject({
    socket: nonEmpty,
    mode: octalMode("0660"),
    group: v.optional(nonEmpty),
  }),
  apps: v.optional(
    v.array(v.strictObject({
      name: nonEmpty,
      token_file: nonEmpty,
      paths: v.pipe(v.array(pathGlob), v.minLength(1, "needs at least one path")),
    })),
    [],
  ),
  templates: v.optional(v.array(template), []),
  exec: v.optional(v.strictObject({
    // Optional here: `agent exec -config F -- CMD` gives it on the command line instead.
    command: v.optional(v.pipe(v.array(nonEmpty), v.minLength(1, "must name a program"))),
    env: v.optional(
      v.record(v.pipe(v.string(), v.regex(ENV_NAME_RE, "is not a valid variable name")), envRef),
      {},
    ),
    env_prefix: v.optional(
      v.pipe(v.string(), v.regex(ENV_NAME_RE, "is not a valid variable name prefix")),
    ),
    prefix_paths: v.optional(v.array(secretPath), []),
    // No default here: parseAgentConfig must see whether it was set, to refuse it with
    // reload_signal.
    restart_on_change: v.optional(v.boolean()),
    reload_signal: v.optional(
      v.picklist(RELOAD_SIGNALS, `must be one of ${RELOAD_SIGNALS.join(", ")}`),
    ),
  })),
  log_level: v.optional(
    v.picklist(["debug", "info", "warn", "error"], "must be debug, info, warn or error"),
  ),
});

type Parsed = v.InferOutput<typeof schema>;

/**
 * The validated config. Differences from the file: modes are numbers, `cache.max_stale` is in
 * seconds and the `link` durations in milliseconds, `agent_id` is filled in, templates carry the
 * resolved `uid`/`gid` of `user`/`group`, `exec.env` values are `{path, field}`,
 * `exec.restart_on_change` is filled in (false when `exec.reload_signal` is set), and every path
 * is absolute.
 */
export type AgentConfig = Omit<Parsed, "agent_id" | "templates" | "exec"> & {
  agent_id: string;
  templates: (Parsed["templates"][number] & { uid?: number; gid?: number })[];
  exec?: Omit<NonNullable<Parsed["exec"]>, "restart_on_change"> & { restart_on_change: boolean };
};
export type TemplateConfig = AgentConfig["templates"][number];
export type ReloadConfig = NonNullable<TemplateConfig["reload"]>;
export type AppConfig = AgentConfig["apps"][number];
export type ExecConfig = NonNullable<AgentConfig["exec"]>;

function keyPath(issue: v.BaseIssue<unknown>): string {
  let out = "";
  for (const p of issue.path ?? []) {
    out += typeof p.key === "number" ? `[${p.key}]` : `${out ? "." : ""}${String(p.key)}`;
  }
  return out || "(root)";
}

function owner(t: { user?: string; group?: string }, i: number): { uid?: number; gid?: number } {
  try {
    return resolveOwnerSync(t);
  } catch (e) {
    const key = (e as Error).message.startsWith("Cannot find user") ? "user" : "group";
    throw new AgentConfigError(`templates[${i}].${key}`, (e as Error).message);
  }
}

/** Validates a parsed JSON document; relative paths are resolved against `baseDir`. */
export function parseAgentConfig(
  obj: unknown,
  baseDir: string,
  hostname = Deno.hostname(),
): AgentConfig {
  const r = v.safeParse(schema, obj);
  if (!r.success) {
    const issue = r.issues[0];
    const key = keyPath(issue);
    if (issue.type === "strict_object" && issue.expected === "never") {
      throw new AgentConfigError(key, "unknown key");
    }
    // valibot reports an absent key as a key issue whose input is undefined.
    const last = issue.path?.at(-1);
    if (last?.origin === "key" && last.value === undefined && issue.input === undefined) {
      throw AgentConfigError.missing(key);
    }
    throw new AgentConfigError(key, issue.message);
  }
  const c = r.output;
  // Normalised either way ("/x/./a" is "/x/a"), so two spellings of one file compare equal.
  const abs = (p: string) => resolve(baseDir, p);
  const absOpt = (p: string | undefined) => (p === undefined ? undefined : abs(p));

  const agentId = (c.agent_id ?? hostname).toLowerCase();
  if (!AGENT_ID_RE.test(agentId)) {
    throw new AgentConfigError(
      "agent_id",
      c.agent_id === undefined
        ? `the hostname "${hostname}" is not a valid agent id; set agent_id`
        : "must match ^[a-z0-9][a-z0-9._-]{0,63}$",
    );
  }
  const out: AgentConfig = {
    ...c,
    agent_id: agentId,
    core: { ...c.core, ca_file: absOpt(c.core.ca_file) },
    auth: {
      ...c.auth,
      role_id_file: abs(c.auth.role_id_file),
      secret_id_file: abs(c.auth.secret_id_file),
    },
    state_dir: abs(c.state_dir),
    cache: { ...c.cache, key_file: absOpt(c.cache.key_file) },
    listener: { ...c.listener, socket: abs(c.listener.socket) },
    apps: c.apps.map((a) => ({ ...a, token_file: abs(a.token_file) })),
    templates: c.templates.map((t, i) => ({
      ...t,
      ...owner(t, i),
      source: absOpt(t.source),
      destination: abs(t.destination),
      reload: t.reload && "pid_file" in t.reload && t.reload.pid_file !== undefined
        ? { ...t.reload, pid_file: abs(t.reload.pid_file) }
        : t.reload,
    })),
    exec: c.exec && {
      ...c.exec,
      restart_on_change: c.exec.restart_on_change ?? c.exec.reload_signal === undefined,
    },
  };
  // Core closes a link it has heard nothing from for 75 s (lib/agent_protocol.ts).
  if (out.link.heartbeat > MAX_HEARTBEAT_MS) {
    throw new AgentConfigError("link.heartbeat", "must be at most 60s");
  }
  if (out.link.backoff_max < out.link.backoff_initial) {
    throw new AgentConfigError("link.backoff_max", "must not be less than link.backoff_initial");
  }
  // Secret zero: the two halves of the AppRole credential must not live in one file.
  if (out.auth.role_id_file === out.auth.secret_id_file) {
    throw new AgentConfigError(
      "auth.secret_id_file",
      "must not be the same file as auth.role_id_file",
    );
  }
  const names = new Set<string>();
  out.apps.forEach((a, i) => {
    if (names.has(a.name)) {
      throw new AgentConfigError(`apps[${i}].name`, `duplicate app name "${a.name}"`);
    }
    names.add(a.name);
  });
  // A syntax error is a config error naming the key, not a failure later at start-up.
  out.templates.forEach((t, i) => {
    if (t.contents !== undefined) checkTemplate(`templates[${i}].contents`, t.contents);
  });
  const dests = new Set<string>();
  out.templates.forEach((t, i) => {
    if (dests.has(t.destination)) {
      throw new AgentConfigError(
        `templates[${i}].destination`,
        "two templates render to the same file",
      );
    }
    dests.add(t.destination);
  });
  if (out.exec && out.exec.prefix_paths.length > 0 && out.exec.env_prefix === undefined) {
    throw new AgentConfigError("exec.prefix_paths", "needs exec.env_prefix");
  }
  // Both would be one action too many on every change; say which one wins instead of guessing.
  if (c.exec?.reload_signal !== undefined && c.exec.restart_on_change === true) {
    throw new AgentConfigError(
      "exec.reload_signal",
      "cannot be combined with exec.restart_on_change: true (the signal replaces the restart)",
    );
  }
  return out;
}

function checkTemplate(key: string, text: string): void {
  try {
    parseTemplate(text);
  } catch (e) {
    if (e instanceof TemplateSyntaxError) {
      throw new AgentConfigError(key, e.message);
    }
    throw e;
  }
}

/** `templates[].source` files are read here so their errors also name the key. */
async function checkTemplateSources(cfg: AgentConfig): Promise<void> {
  for (const [i, t] of cfg.templates.entries()) {
    if (t.source === undefined) continue;
    const key = `templates[${i}].source`;
    let text: string;
    try {
      text = await Deno.readTextFile(t.source);
    } catch (e) {
      throw new AgentConfigError(key, `${t.source}: ${fsProblem(e)}`);
    }
    checkTemplate(key, text);
  }
}

export interface LoadAgentConfigOptions {
  /** `agent exec … -- CMD` gave the child's command, so `exec.command` may be left out. */
  commandOnCommandLine?: boolean;
}

/** Reads and validates a config file; errors name the file and the key. */
export async function loadAgentConfig(
  file: string,
  opts: LoadAgentConfigOptions = {},
): Promise<AgentConfig> {
  const text = await Deno.readTextFile(file);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  try {
    const cfg = parseAgentConfig(raw, dirname(resolve(file)));
    if (cfg.exec && cfg.exec.command === undefined && !opts.commandOnCommandLine) {
      const e = AgentConfigError.missing("exec.command");
      e.message += " (or give the command after --: agent exec -config FILE -- CMD ARGS)";
      throw e;
    }
    await checkTemplateSources(cfg);
    return cfg;
  } catch (e) {
    if (e instanceof AgentConfigError) {
      // A new error so the stack is this call's; the message gains the file.
      const err = new AgentConfigError(e.key, "");
      err.message = `${file}: ${e.message}`;
      throw err;
    }
    throw e;
  }
}
