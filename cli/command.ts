/**
 * The shape of a CLI command and of the context it runs in. Commands are data (name, flags,
 * synopsis, run) so dispatch and help are generated from one table.
 * @module
 */
import type { ApiClient, ApiResponse, Env } from "../lib/client.ts";
import type { FlagSpec, ParsedFlags } from "../lib/flags.ts";
import type { Io } from "./io.ts";

export type OutputFormat = "table" | "json";

export interface ApiCallOptions {
  /** Completes "Error <action>: ..."; defaults to e.g. "reading PATH". */
  action?: string;
  /** Statuses to hand back instead of throwing (any 2xx is always accepted). */
  accept?: readonly number[];
  headers?: Record<string, string>;
}

export interface Ctx {
  io: Io;
  env: Env;
  format: OutputFormat;
  parsed: ParsedFlags;
  /** Positional arguments after the command words. */
  args: string[];
  /** The `-field` flag, when the command accepts it. */
  field: string | undefined;
  offlineVerify: OfflineVerify | undefined;
  /** Built on first use, so commands that never reach the server need no token or CA file. */
  client(): Promise<ApiClient>;
  /** One request; a non-2xx status not listed in `accept` throws ApiError (exit 2). */
  api(method: string, path: string, body?: unknown, opts?: ApiCallOptions): Promise<ApiResponse>;
}

export interface Command {
  /** Space-separated command words, e.g. "kv metadata get". */
  name: string;
  /** Positional arguments for the usage line, e.g. "PATH [K=V ...]". */
  args?: string;
  synopsis: string;
  /** Flags beyond the global ones (-address, -ca-cert, -format). */
  flags?: FlagSpec;
  run(ctx: Ctx): Promise<number>;
}

/** Options the lead's offline `audit verify -db FILE` implementation receives. */
export interface OfflineVerifyOptions {
  db: string;
  keyFile: string | undefined;
  /** Every `-unseal-key` given, in order (several when the threshold is above one). */
  unsealKeys: string[];
  format: OutputFormat;
  args: string[];
  env: Env;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
}

/** Returns the exit code: 0 for an intact chain, 1 for a broken one or a local error. */
export type OfflineVerify = (opts: OfflineVerifyOptions) => Promise<number>;

export const GLOBAL_FLAGS: Required<FlagSpec> = {
  values: ["address", "ca-cert", "format"],
  booleans: ["help", "h"],
};

/** Added to the flag spec of commands that print a secret-like result. */
export const FIELD_FLAG = "field";
