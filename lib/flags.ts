/**
 * Vault-style command-line flags: `-k=v`, `--k=v`, `-k v`, boolean `-k`, and `--` to end flags.
 *
 * Vault's flags are single-dash long names (`-format=json`); `node:util` parseArgs would read
 * those as bundles of one-letter flags, hence this parser. Flags and positional arguments may be
 * interleaved (`token lookup -accessor X`), and a lone `-` is a positional (it means stdin).
 * @module
 */

/** Which flags a command knows. Value flags consume the next argument in the `-k v` form. */
export interface FlagSpec {
  values?: readonly string[];
  booleans?: readonly string[];
}

export interface ParsedFlags {
  /** Last occurrence of each flag: a string value, or `true` for a bare boolean flag. */
  flags: Map<string, string | true>;
  /** Every occurrence in order, for repeatable flags such as `-policy=a -policy=b`. */
  all: Map<string, (string | true)[]>;
  args: string[];
}

/** A malformed or unknown flag; the CLI reports it as a usage error (exit 1). */
export class FlagError extends Error {
  override name = "FlagError";
}

const BOOL_WORDS: Record<string, boolean> = {
  true: true,
  t: true,
  "1": true,
  false: false,
  f: false,
  "0": false,
};

/** Parses `argv` against `spec`; throws FlagError on an unknown flag or a missing value. */
export function parseFlags(argv: readonly string[], spec: FlagSpec): ParsedFlags {
  const values = new Set(spec.values ?? []);
  const booleans = new Set(spec.booleans ?? []);
  const flags = new Map<string, string | true>();
  const all = new Map<string, (string | true)[]>();
  const args: string[] = [];
  const set = (name: string, value: string | true) => {
    flags.set(name, value);
    all.set(name, [...(all.get(name) ?? []), value]);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-" || !arg.startsWith("-")) {
      args.push(arg);
      continue;
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    const inline = eq === -1 ? undefined : body.slice(eq + 1);
    if (name === "" || name.startsWith("-")) throw new FlagError(`bad flag syntax: ${arg}`);

    if (values.has(name)) {
      if (inline !== undefined) {
        set(name, inline);
      } else if (i + 1 < argv.length) {
        set(name, argv[++i]!);
      } else {
        throw new FlagError(`flag needs an argument: -${name}`);
      }
    } else if (booleans.has(name)) {
      if (inline !== undefined && !(inline.toLowerCase() in BOOL_WORDS)) {
        throw new FlagError(`invalid boolean value "${inline}" for -${name}`);
      }
      set(name, inline ?? true);
    } else {
      throw new FlagError(`flag provided but not defined: -${name}`);
    }
  }
  return { flags, all, args };
}

/** The last value of a value flag, or undefined when absent. */
export function flagString(parsed: ParsedFlags, name: string): string | undefined {
  const v = parsed.flags.get(name);
  return v === undefined || v === true ? undefined : v;
}

/** Every value given for a repeatable flag, in order. */
export function flagStrings(parsed: ParsedFlags, name: string): string[] {
  return (parsed.all.get(name) ?? []).filter((v): v is string => v !== true);
}

/** A boolean flag: `-k` and `-k=true` are true, `-k=false` is false, absent is undefined. */
export function flagBool(parsed: ParsedFlags, name: string): boolean | undefined {
  const v = parsed.flags.get(name);
  if (v === undefined) return undefined;
  if (v === true) return true;
  const b = BOOL_WORDS[v.toLowerCase()];
  if (b === undefined) throw new FlagError(`invalid boolean value "${v}" for -${name}`);
  return b;
}

/** An integer flag; throws FlagError when the value is not a whole number. */
export function flagInt(parsed: ParsedFlags, name: string): number | undefined {
  const v = flagString(parsed, name);
  if (v === undefined) return undefined;
  const n = /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new FlagError(`invalid integer value "${v}" for -${name}`);
  return n;
}
