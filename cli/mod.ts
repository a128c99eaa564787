/**
 * The SecretHub CLI: an HTTP client of the server's Vault-compatible API. It never imports
 * core/ or engines/. `runCli(argv)` returns the exit code instead of exiting, so main.ts decides
 * when the process ends and tests can run commands in-process.
 * @module
 */
import type { Env } from "../lib/client.ts";
import { FlagError, type FlagSpec, parseFlags } from "../lib/flags.ts";
import { type Command, GLOBAL_FLAGS, type OfflineVerify } from "./command.ts";
import { createCtx, type OwnedCtx } from "./context.ts";
import { CliError, errorText, EXIT_LOCAL, EXIT_UNKNOWN_COMMAND, UsageError } from "./errors.ts";
import { agentHelp, commandHelp, groupUsage, serverHelp, usage } from "./help.ts";
import { createIo, type Io, type IoOptions } from "./io.ts";
import { COMMANDS, findCommand } from "./registry.ts";

export type { CliStdin } from "./io.ts";
export type { OfflineVerify, OfflineVerifyOptions, OutputFormat } from "./command.ts";
export { VERSION } from "./commands/version.ts";

export interface CliOptions extends IoOptions {
  /** Defaults to the process environment. */
  env?: Env;
  /** Offline `audit verify -db FILE ...`; without it that mode reports it is unavailable. */
  offlineVerify?: OfflineVerify;
}

const HELP_WORDS = new Set(["help", "-h", "-help", "--help"]);
const VERSION_WORDS = new Set(["-v", "-version", "--version"]);

export async function runCli(argv: string[], options: CliOptions = {}): Promise<number> {
  const io = createIo(options);
  const first = argv[0];
  if (first === undefined) {
    io.out(usage(COMMANDS));
    return EXIT_LOCAL;
  }
  if (HELP_WORDS.has(first)) return help(io, argv.slice(1));
  if (VERSION_WORDS.has(first)) argv = ["version", ...argv.slice(1)];

  const found = findCommand(argv);
  if (found.kind === "group") {
    // As Vault: `kv frob` (or plain `kv`) shows the group's usage and exits 1; `kv -help` is
    // asking for it (exit 0).
    const words = found.prefix.split(" ").length;
    if (found.next === undefined && argv.slice(words).some((a) => HELP_WORDS.has(a))) {
      io.out(groupUsage(found.prefix, found.members));
      return 0;
    }
    const what = found.next === undefined ? "" : `Error: unknown subcommand "${found.next}"\n\n`;
    io.err(what + groupUsage(found.prefix, found.members));
    return EXIT_LOCAL;
  }
  if (found.kind === "unknown") {
    io.err(`Error: unknown command "${first}"\n\n${usage(COMMANDS)}`);
    return EXIT_UNKNOWN_COMMAND;
  }

  const { command, rest } = found;
  let ctx: OwnedCtx | undefined;
  try {
    const parsed = parseFlags(rest, withGlobals(command.flags));
    if (parsed.flags.has("help") || parsed.flags.has("h")) {
      io.out(commandHelp(command));
      return 0;
    }
    ctx = createCtx({
      io,
      env: options.env ?? Deno.env.toObject(),
      parsed,
      offlineVerify: options.offlineVerify,
    });
    return await command.run(ctx);
  } catch (err) {
    return report(io, command, err);
  } finally {
    ctx?.close();
  }
}

function withGlobals(spec: FlagSpec = {}): FlagSpec {
  return {
    values: [...GLOBAL_FLAGS.values, ...(spec.values ?? [])],
    booleans: [...GLOBAL_FLAGS.booleans, ...(spec.booleans ?? [])],
  };
}

function help(io: Io, words: string[]): number {
  if (words[0] === "server" || words[0] === "agent") {
    io.out(words[0] === "server" ? serverHelp() : agentHelp());
    return 0;
  }
  const found = findCommand(words);
  if (found.kind === "command") io.out(commandHelp(found.command));
  else if (found.kind === "group") io.out(groupUsage(found.prefix, found.members));
  else io.out(usage(COMMANDS));
  return 0;
}

/** One place turns any failure into a message on stderr and an exit code. */
function report(io: Io, command: Command, err: unknown): number {
  const text = errorText(err);
  if (err instanceof FlagError || err instanceof UsageError) {
    io.err(`${text}\n\nRun "secrethub ${command.name} -help" for usage.`);
    return EXIT_LOCAL;
  }
  io.err(text);
  return err instanceof CliError ? err.exitCode : EXIT_LOCAL;
}
