/**
 * `K=V` arguments as Vault reads them: `k=@file` takes a file's contents, `k=-` takes stdin,
 * a lone `-` or `@file.json` merges a JSON object, and a repeated key becomes a list.
 * @module
 */
import { flagStrings, type ParsedFlags } from "../lib/flags.ts";
import { UsageError } from "./errors.ts";
import type { Io } from "./io.ts";

export type Data = Record<string, unknown>;

/**
 * Keys are the user's: on a plain object `constructor` or `toString` would be found on the
 * prototype and `__proto__` would set it, so maps here have no prototype.
 */
function emptyMap<T>(): Record<string, T> {
  return Object.create(null);
}

export async function parseKeyValues(args: readonly string[], io: Io): Promise<Data> {
  const out: Data = emptyMap();
  let stdinUsed = false;
  const stdin = () => {
    // Stdin can only be read once; a second reference would silently get nothing.
    if (stdinUsed) throw new UsageError("Failed to parse K=V data: stdin already consumed");
    stdinUsed = true;
    return io.readStdin();
  };
  const add = (key: string, value: unknown) => {
    if (!Object.hasOwn(out, key)) out[key] = value;
    else if (Array.isArray(out[key])) (out[key] as unknown[]).push(value);
    else out[key] = [out[key], value];
  };

  for (const [i, arg] of args.entries()) {
    if (arg === "-" || arg.startsWith("@")) {
      const text = arg === "-" ? await stdin() : await readFile(arg.slice(1));
      for (const [k, v] of Object.entries(parseJsonObject(text, arg))) add(k, v);
      continue;
    }
    const eq = arg.indexOf("=");
    if (eq <= 0) {
      // Not quoted: a value typed without its key would be a secret on stderr (and in CI logs).
      throw new UsageError(
        `Failed to parse K=V data: invalid key/value pair (data argument ${i + 1}): ` +
          "format must be key=value",
      );
    }
    const key = arg.slice(0, eq);
    const raw = arg.slice(eq + 1);
    if (raw === "-") add(key, await stdin());
    else if (raw.startsWith("@")) add(key, await readFile(raw.slice(1)));
    else add(key, raw);
  }
  return out;
}

async function readFile(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new UsageError(`Failed to read file "${path}": ${(err as Error).message}`);
  }
}

/**
 * The file or stdin holds secrets, so no error quotes it: JSON.parse's message does (`Unexpected
 * token 'h', "hunter2-su"... is not valid JSON`).
 */
function parseJsonObject(text: string, source: string): Data {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UsageError(
      `Failed to parse JSON from ${source}: not valid JSON (expected an object)`,
    );
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    throw new UsageError(`Failed to parse JSON from ${source}: expected an object`);
  }
  return v as Data;
}

/** Data for GET/DELETE requests, which Vault sends as query parameters. */
export function toQuery(data: Data): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(data)) {
    for (const item of Array.isArray(v) ? v : [v]) {
      q.append(k, typeof item === "string" ? item : JSON.stringify(item));
    }
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** A repeatable `-flag k=v` (`-metadata`, `-custom-metadata`) as a map; undefined when absent. */
export function flagPairs(parsed: ParsedFlags, flag: string): Record<string, string> | undefined {
  const pairs = flagStrings(parsed, flag);
  if (pairs.length === 0) return undefined;
  const out = emptyMap<string>();
  for (const p of pairs) {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new UsageError(`Invalid -${flag} value: format must be key=value`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}
