/**
 * Every CLI command, in the order help lists them. Adding a command is one entry here.
 * @module
 */
import type { Command } from "./command.ts";
import { auditVerifyCommand } from "./commands/audit.ts";
import { genericCommands } from "./commands/generic.ts";
import { kvCommands } from "./commands/kv.ts";
import { kvMetadataCommands } from "./commands/kv_metadata.ts";
import { loginCommand } from "./commands/login.ts";
import { operatorCommands } from "./commands/operator.ts";
import { policyCommands } from "./commands/policy.ts";
import { statusCommand } from "./commands/status.ts";
import { tokenCommands } from "./commands/token.ts";
import { versionCommand } from "./commands/version.ts";

export const COMMANDS: readonly Command[] = [
  statusCommand,
  ...operatorCommands,
  loginCommand,
  ...tokenCommands,
  ...policyCommands,
  ...kvCommands,
  ...kvMetadataCommands,
  ...genericCommands,
  auditVerifyCommand,
  versionCommand,
];

export type Lookup =
  | { kind: "command"; command: Command; rest: string[] }
  /** `next`: the word after the group's words that names none of its subcommands, if any. */
  | { kind: "group"; prefix: string; members: Command[]; next?: string }
  | { kind: "unknown" };

/** The command whose words start argv, longest first; or the group argv's words name. */
export function findCommand(argv: readonly string[]): Lookup {
  let best: Command | undefined;
  let bestLen = 0;
  for (const c of COMMANDS) {
    const words = c.name.split(" ");
    if (words.length > bestLen && words.every((w, i) => argv[i] === w)) {
      best = c;
      bestLen = words.length;
    }
  }
  if (best) return { kind: "command", command: best, rest: argv.slice(bestLen) };

  const leading: string[] = [];
  for (const a of argv) {
    if (a.startsWith("-")) break;
    leading.push(a);
  }
  for (let n = leading.length; n > 0; n--) {
    const prefix = leading.slice(0, n).join(" ");
    const members = COMMANDS.filter((c) => c.name.startsWith(`${prefix} `));
    if (members.length) return { kind: "group", prefix, members, next: leading[n] };
  }
  return { kind: "unknown" };
}
