/**
 * Usage text, generated from the command table so it cannot drift from what dispatch accepts.
 * @module
 */
import { type Command, GLOBAL_FLAGS } from "./command.ts";

const GLOBAL_HELP = [
  "  -address=URL         server address (env SECRETHUB_ADDR; default http://127.0.0.1:8200)",
  "  -ca-cert=FILE        PEM CA certificate to trust (env SECRETHUB_CACERT)",
  "  -format=table|json   output format (env SECRETHUB_FORMAT; default table)",
  "  -field=KEY           print only this field, on commands that print secrets",
];

const FOOTER = [
  "Environment:",
  "  SECRETHUB_ADDR, SECRETHUB_TOKEN, SECRETHUB_CACERT, SECRETHUB_FORMAT. VAULT_ADDR and",
  "  VAULT_TOKEN are used only together, and only when neither SECRETHUB_ADDR nor",
  "  SECRETHUB_TOKEN is set. Without a token variable, ~/.secrethub-token (see login) is used.",
  "  SECRETHUB_CLIENT_TIMEOUT (else VAULT_CLIENT_TIMEOUT): how long a request may wait for",
  '  the server, in seconds or as "30s", "2m" (default 60s; 0 waits forever).',
  "",
  "Exit codes: 0 success, 1 local error (flags, arguments, files), 2 server or network error,",
  "127 unknown command.",
  "`status` exits 0 when unsealed, 2 when sealed, 1 on error.",
];

function usageLine(c: Command): string {
  return [c.name, c.args].filter((s) => s).join(" ");
}

function commandLines(commands: readonly Command[], extra: [string, string][] = []): string[] {
  const rows: [string, string][] = [
    ...commands.map((c): [string, string] => [usageLine(c), c.synopsis]),
    ...extra,
  ];
  const width = Math.max(...rows.map(([u]) => u.length));
  return rows.map(([u, s]) => `  ${u.padEnd(width)}   ${s}`);
}

export function usage(commands: readonly Command[]): string {
  return [
    "Usage: secrethub <command> [flags] [args]",
    "",
    "Commands:",
    ...commandLines(commands, [
      ["help [COMMAND]", "Show this text, or a command's flags"],
      ["server -dev | -config FILE", "Run the server (see README: dev flags and config keys)"],
    ]),
    "",
    "Global flags:",
    ...GLOBAL_HELP,
    "",
    ...FOOTER,
  ].join("\n");
}

export function groupUsage(prefix: string, members: readonly Command[]): string {
  return [
    `Usage: secrethub ${prefix} <subcommand> [flags] [args]`,
    "",
    "Subcommands:",
    ...commandLines(members),
  ]
    .join("\n");
}

export function commandHelp(c: Command): string {
  const own = [
    ...(c.flags?.values ?? []).map((f) => `  -${f}=VALUE`),
    ...(c.flags?.booleans ?? []).map((f) => `  -${f}`),
  ];
  return [
    `Usage: secrethub ${usageLine(c)} [flags]`,
    "",
    c.synopsis,
    ...(own.length ? ["", "Flags:", ...own] : []),
    "",
    "Global flags:",
    ...GLOBAL_HELP.filter((l) => GLOBAL_FLAGS.values.some((g) => l.startsWith(`  -${g}=`))),
  ].join("\n");
}

/** `server -help`: the flags core/mod.ts runServer parses. */
export function serverHelp(): string {
  return [
    "Usage: secrethub server -config FILE [-log-level L]",
    "       secrethub server -dev [-dev-root-token-id T] [-dev-listen-address HOST:PORT]",
    "                        [-dev-agent-listen-address HOST:PORT] [-log-level L]",
    "",
    "Run the SecretHub server: from a JSON config file, or in dev mode (temporary storage,",
    "initialised and unsealed, root token and unseal key printed to stderr).",
    "",
    "Flags:",
    "  -config=FILE                        JSON config file (see README: config keys)",
    "  -dev                                dev mode; cannot be combined with -config",
    "  -dev-root-token-id=T                dev mode's root token",
    "  -dev-listen-address=HOST:PORT       dev mode's HTTP listener (env",
    "                                      SECRETHUB_DEV_LISTEN_ADDRESS; default 127.0.0.1:8200)",
    "  -dev-agent-listen-address=HOST:PORT dev mode's agent listener (default 127.0.0.1:8201)",
    "  -log-level=L                        debug, info, warn, error (env SECRETHUB_LOG_LEVEL)",
  ].join("\n");
}

/** `agent -help`: the flags agent/mod.ts runAgent parses. */
export function agentHelp(): string {
  return [
    "Usage: secrethub agent -config FILE [-log-level L]",
    "       secrethub agent exec -config FILE [-log-level L] -- COMMAND [ARGS ...]",
    "",
    "Run the SecretHub agent; `agent exec` also runs COMMAND with secrets in its environment.",
    "",
    "Flags:",
    "  -config=FILE   JSON agent config file (env SECRETHUB_AGENT_CONFIG)",
    "  -log-level=L   debug, info, warn, error",
  ].join("\n");
}
