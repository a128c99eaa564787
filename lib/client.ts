/**
 * HTTP client for SecretHub's Vault-compatible API (`$ADDR/v1/...`), plus the rules that pick the
 * address, token and CA certificate from flags, environment and the token helper file.
 * @module
 */

export const DEFAULT_ADDRESS = "http://127.0.0.1:8200";
export const TOKEN_FILE_NAME = ".secrethub-token";
/** Vault's default for VAULT_CLIENT_TIMEOUT. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** setTimeout fires at once past this many milliseconds (~24.8 days): longer waits are cut. */
const MAX_TIMER_MS = 2_147_483_647;

export type Env = Record<string, string | undefined>;

export interface ApiClientOptions {
  address: string;
  token?: string;
  /** PEM text of the CA(s) to trust, in addition to the system roots. */
  caCert?: string;
  /**
   * Milliseconds a request may take, reply body included; 0 waits forever (as Vault's 0).
   * Defaults to {@link DEFAULT_TIMEOUT_MS}: a server that accepts but never answers must not
   * hang a script or the agent.
   */
  timeoutMs?: number;
}

export interface RequestOptions {
  /** Aborts the request as well as the timeout does; its abort error is rethrown as is. */
  signal?: AbortSignal;
}

export interface ApiResponse {
  status: number;
  /** Parsed JSON, the raw text when the body is not JSON, or null when it is empty. */
  body: unknown;
}

/** The server could not be reached (DNS, refused connection, TLS failure). */
export class NetworkError extends Error {
  override name = "NetworkError";
}

export class ApiClient {
  readonly address: string;
  readonly token: string | undefined;
  readonly timeoutMs: number;
  #http: Deno.HttpClient | undefined;

  constructor(opts: ApiClientOptions) {
    this.address = opts.address.replace(/\/+$/, "");
    this.token = opts.token || undefined;
    this.timeoutMs = Math.min(Math.max(0, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS), MAX_TIMER_MS);
    this.#http = opts.caCert ? Deno.createHttpClient({ caCerts: [opts.caCert] }) : undefined;
  }

  /** The full URL of an API path given relative to `/v1/` (leading slashes are ignored). */
  url(path: string): string {
    return `${this.address}/v1/${path.replace(/^\/+/, "")}`;
  }

  /**
   * Sends one request. Non-2xx statuses are returned, not thrown, because callers branch on
   * them (404 on a read, 2 on a sealed `status`); only an unreachable or silent server throws.
   */
  async request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
    opts: RequestOptions = {},
  ): Promise<ApiResponse> {
    const h = new Headers(headers);
    if (this.token && !h.has("x-vault-token")) h.set("x-vault-token", this.token);
    let payload: string | undefined;
    if (body !== undefined) {
      payload = typeof body === "string" ? body : JSON.stringify(body);
      if (!h.has("content-type")) {
        // Vault refuses PATCH without the merge-patch type (415), so default it here.
        h.set(
          "content-type",
          method === "PATCH" ? "application/merge-patch+json" : "application/json",
        );
      }
    }
    const url = this.url(path);
    const timeout = new AbortController();
    const timer = this.timeoutMs > 0
      ? setTimeout(() => timeout.abort(), this.timeoutMs)
      : undefined;
    const signal = opts.signal ? AbortSignal.any([timeout.signal, opts.signal]) : timeout.signal;
    try {
      const res = await fetch(url, {
        method,
        headers: h,
        body: payload,
        client: this.#http,
        signal,
      });
      // The timeout covers the body too: a server may send headers and then stall.
      const text = await res.text();
      return { status: res.status, body: parseBody(text) };
    } catch (err) {
      if (opts.signal?.aborted && !timeout.signal.aborted) throw err;
      const reason = timeout.signal.aborted
        ? `no reply within ${formatMs(this.timeoutMs)}`
        : networkReason(err);
      // The query may carry request data (`read PATH k=v` sends it there): keep it out of errors.
      throw new NetworkError(`${method} ${withoutQuery(url)}: ${reason}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Releases the TLS client built for `caCert`; safe to call more than once. */
  close(): void {
    this.#http?.close();
    this.#http = undefined;
  }
}

/**
 * Why a fetch failed, in the words of the layer that failed. Deno's fetch rejects with a bare
 * `TypeError: fetch failed` whose `cause` says what happened ("error sending request for url
 * (URL): client error (Connect): tcp connect error: Connection refused (os error 111)"); the
 * URL is already on the line, so what is left is `tcp connect error: Connection refused`, or
 * `invalid peer certificate: ...` for a TLS failure.
 */
export function networkReason(err: unknown): string {
  const top = err instanceof Error ? err.message : String(err);
  const reasons: string[] = [];
  let c: unknown = err instanceof Error ? err.cause : undefined;
  for (let depth = 0; c !== undefined && c !== null && depth < 8; depth++) {
    const m = (c instanceof Error ? c.message : String(c))
      .replace(/^error sending request for url \(.*?\):\s*/, "")
      .replace(/^client error \([^)]*\):\s*/, "")
      .replace(/\s*\(os error \d+\)/g, "")
      .trim();
    if (m && !reasons.some((r) => r.includes(m))) reasons.push(m);
    c = c instanceof Error ? c.cause : undefined;
  }
  if (reasons.length === 0) return top;
  return /^fetch failed$/i.test(top) ? reasons.join(": ") : `${top}: ${reasons.join(": ")}`;
}

/** A URL for an error message: the query string goes, as it may hold request data. */
export function withoutQuery(url: string): string {
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

const TIMEOUT_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * A client timeout as Vault reads VAULT_CLIENT_TIMEOUT: seconds ("30", "1.5") or a Go duration
 * ("500ms", "1m30s"); milliseconds, or undefined when it is neither. lib/duration.ts rounds to
 * whole seconds, too coarse for a timeout below one.
 */
export function parseTimeoutMs(text: string): number | undefined {
  const s = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * TIMEOUT_UNITS_MS[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos === 0 || pos !== s.length ? undefined : total;
}

/**
 * The request timeout from SECRETHUB_CLIENT_TIMEOUT, else VAULT_CLIENT_TIMEOUT (harmless to
 * adopt alone, unlike VAULT_ADDR and VAULT_TOKEN), else {@link DEFAULT_TIMEOUT_MS}.
 */
export function clientTimeoutMs(env: Env): number {
  for (const name of ["SECRETHUB_CLIENT_TIMEOUT", "VAULT_CLIENT_TIMEOUT"]) {
    const raw = nonEmpty(env[name]);
    if (raw === undefined) continue;
    const ms = parseTimeoutMs(raw);
    if (ms === undefined) {
      throw new TypeError(
        `Invalid ${name} "${raw}": expected seconds or a duration such as "30s" or "2m"`,
      );
    }
    return Math.ceil(ms);
  }
  return DEFAULT_TIMEOUT_MS;
}

function parseBody(text: string): unknown {
  if (text.trim() === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface EnvSettings {
  address: string;
  token?: string;
  caCertPath?: string;
  /** Where the address came from; `vault` means the VAULT_ADDR/VAULT_TOKEN pair was adopted. */
  source: "flag" | "secrethub" | "vault" | "default";
}

export interface Overrides {
  address?: string;
  caCertPath?: string;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

/**
 * Picks address, token and CA path. SECRETHUB_* wins. VAULT_ADDR/VAULT_TOKEN are adopted only
 * together, only when no SECRETHUB_ADDR/SECRETHUB_TOKEN is set and no -address flag was given:
 * mixing them could send a real Vault token to this server or ours to a Vault.
 */
export function resolveEnv(env: Env, overrides: Overrides = {}): EnvSettings {
  const shAddr = nonEmpty(env.SECRETHUB_ADDR);
  const shToken = nonEmpty(env.SECRETHUB_TOKEN);
  const vAddr = nonEmpty(env.VAULT_ADDR);
  const vToken = nonEmpty(env.VAULT_TOKEN);
  const caFlag = nonEmpty(overrides.caCertPath);
  const addrFlag = nonEmpty(overrides.address);

  if (!shAddr && !shToken && !addrFlag && vAddr && vToken) {
    return {
      address: vAddr,
      token: vToken,
      caCertPath: caFlag ?? nonEmpty(env.SECRETHUB_CACERT) ?? nonEmpty(env.VAULT_CACERT),
      source: "vault",
    };
  }
  return {
    address: addrFlag ?? shAddr ?? DEFAULT_ADDRESS,
    token: shToken,
    caCertPath: caFlag ?? nonEmpty(env.SECRETHUB_CACERT),
    source: addrFlag ? "flag" : shAddr ? "secrethub" : "default",
  };
}

/** `~/.secrethub-token`, or undefined when no home directory is known. */
export function tokenFilePath(env: Env): string | undefined {
  const home = nonEmpty(env.HOME) ?? nonEmpty(env.USERPROFILE);
  return home ? `${home.replace(/[\\/]+$/, "")}/${TOKEN_FILE_NAME}` : undefined;
}

/** The stored token, or undefined when the file does not exist or is empty. */
export async function readTokenFile(path: string): Promise<string | undefined> {
  try {
    return nonEmpty((await Deno.readTextFile(path)).trim());
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/**
 * Stores a token readable by the owner only. The temp file is created 0600 and renamed over
 * the target, so the token never sits in a file with wider permissions, even briefly.
 */
export async function writeTokenFile(path: string, token: string): Promise<void> {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    await Deno.writeTextFile(tmp, token, { mode: 0o600, createNew: true });
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** Full client options: env/flag settings, then the token file, then the CA file's contents. */
export async function resolveClientOptions(
  env: Env,
  overrides: Overrides = {},
): Promise<ApiClientOptions> {
  const s = resolveEnv(env, overrides);
  let token = s.token;
  if (!token) {
    const file = tokenFilePath(env);
    if (file) token = await readTokenFile(file);
  }
  const caCert = s.caCertPath ? await Deno.readTextFile(s.caCertPath) : undefined;
  return { address: s.address, token, caCert, timeoutMs: clientTimeoutMs(env) };
}
