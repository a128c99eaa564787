/**
 * Builds the per-invocation context: output format, a lazily created API client, and the
 * request helper that turns error statuses into ApiError.
 * @module
 */
import {
  ApiClient,
  type ApiResponse,
  type Env,
  NetworkError,
  resolveClientOptions,
} from "../lib/client.ts";
import { flagString, type ParsedFlags } from "../lib/flags.ts";
import type { ApiCallOptions, Ctx, OfflineVerify, OutputFormat } from "./command.ts";
import { ApiError, CliError, EXIT_REMOTE, UsageError } from "./errors.ts";
import type { Io } from "./io.ts";

export interface CtxInput {
  io: Io;
  env: Env;
  parsed: ParsedFlags;
  offlineVerify: OfflineVerify | undefined;
}

export interface OwnedCtx extends Ctx {
  /** Releases the HTTP client, if one was built. */
  close(): void;
}

const VERBS: Record<string, string> = {
  GET: "reading",
  LIST: "listing",
  DELETE: "deleting",
  PUT: "writing to",
  POST: "writing to",
  PATCH: "patching",
};

export function createCtx(input: CtxInput): OwnedCtx {
  const { io, env, parsed } = input;
  const format = outputFormat(flagString(parsed, "format") ?? (env.SECRETHUB_FORMAT || undefined));
  let client: Promise<ApiClient> | undefined;
  let built: ApiClient | undefined;

  const getClient = () =>
    client ??= resolveClientOptions(env, {
      address: flagString(parsed, "address"),
      caCertPath: flagString(parsed, "ca-cert"),
    }).then((opts) => (built = new ApiClient(opts)));

  return {
    io,
    env,
    format,
    parsed,
    args: parsed.args,
    field: flagString(parsed, "field"),
    offlineVerify: input.offlineVerify,
    client: getClient,
    async api(method: string, path: string, body?: unknown, opts: ApiCallOptions = {}) {
      const action = opts.action ?? `${VERBS[method] ?? method} ${path.replace(/\?.*$/, "")}`;
      const c = await getClient();
      let res: ApiResponse;
      try {
        res = await c.request(method, path, body, opts.headers);
      } catch (err) {
        if (err instanceof NetworkError) {
          throw new CliError(`Error ${action}: ${err.message}`, EXIT_REMOTE);
        }
        throw err;
      }
      const ok = (res.status >= 200 && res.status < 300) || opts.accept?.includes(res.status);
      if (ok) return res;
      throw new ApiError(action, method, c.url(path), res.status, res.body);
    },
    close() {
      built?.close();
    },
  };
}

function outputFormat(raw: string | undefined): OutputFormat {
  const f = (raw ?? "table").toLowerCase();
  if (f === "table" || f === "json") return f;
  throw new UsageError(`Invalid output format "${raw}": must be "table" or "json"`);
}
