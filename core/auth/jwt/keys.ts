/**
 * Where the verification keys come from: a JWKS URL (fetched by jose, cached, and re-fetched
 * when a token names a key id the cached set lacks, which is how issuers rotate keys) or static
 * PEM public keys / certificates.
 */
import {
  createRemoteJWKSet,
  customFetch,
  errors,
  importSPKI,
  importX509,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyOptions,
} from "jose";

/** Asymmetric algorithms only: there is no shared secret to configure, and never "none". */
export const ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
] as const;

export interface Verifier {
  /** Resolves with the verified claims or rejects with jose's error. */
  verify(token: string, opts: JWTVerifyOptions): Promise<JWTPayload>;
  /**
   * Fetches and parses the key set now (a config write checks its URL this way, and logins
   * then start from what it fetched); rejects with the reason. Static keys have nothing to do.
   */
  check(): Promise<void>;
  /** Releases what the verifier holds (the custom-CA HTTP client). */
  close(): void;
}

export function importPem(pem: string, alg: string): Promise<CryptoKey> {
  return pem.includes("BEGIN CERTIFICATE") ? importX509(pem, alg) : importSPKI(pem, alg);
}

/** True when `pem` is a public key or certificate usable with at least one of `algs`. */
export async function pemUsable(pem: string, algs: readonly string[]): Promise<boolean> {
  for (const alg of algs) {
    try {
      await importPem(pem, alg);
      return true;
    } catch { /* try the next algorithm */ }
  }
  return false;
}

/** jose errors that mean "this key did not verify it", as opposed to a bad or expired token. */
const WRONG_KEY = new Set(["ERR_JWS_SIGNATURE_VERIFICATION_FAILED", "ERR_JOSE_NOT_SUPPORTED"]);

function isWrongKey(e: unknown): boolean {
  // A key of another type (RSA for an ES256 token) fails in WebCrypto import with a
  // DOMException or TypeError rather than a jose error.
  return !(e instanceof errors.JOSEError) || WRONG_KEY.has(e.code);
}

/** Tries each PEM in turn; claims errors from a key whose signature matched are final. */
export function pemVerifier(pems: readonly string[]): Verifier {
  const imported = new Map<string, Promise<CryptoKey>>();
  const keyFor = (i: number, alg: string) => {
    const id = `${i}:${alg}`;
    let k = imported.get(id);
    if (!k) imported.set(id, k = importPem(pems[i]!, alg));
    return k;
  };
  return {
    async verify(token, opts) {
      let last: unknown = null;
      for (let i = 0; i < pems.length; i++) {
        try {
          return (await jwtVerify(token, (h) => keyFor(i, h.alg), opts)).payload;
        } catch (e) {
          if (!isWrongKey(e)) throw e;
          last = e;
        }
      }
      throw Object.assign(new Error("no configured key verified the token", { cause: last }), {
        code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
      });
    },
    check: () => Promise.resolve(),
    close() {},
  };
}

export interface JwksOptions {
  /** Least time between re-fetches triggered by unknown key ids (JWKS_COOLDOWN_MS if unset). */
  cooldownMs?: number;
  timeoutMs?: number;
}

/**
 * jose waits 30 s by default before an unknown key id may fetch the set again, so a key the
 * issuer has just rotated in is refused for up to that long. 5 s still bounds how often tokens
 * with made-up key ids can make the server fetch.
 */
export const JWKS_COOLDOWN_MS = 5_000;

/**
 * Largest key set (and error body) read; real sets are a few KiB. jose would otherwise read
 * whatever the URL sends into memory before parsing it.
 */
export const MAX_JWKS_BYTES = 1024 * 1024;

/** Reads a body up to `limit` bytes, cancelling the stream as soon as it goes past. */
async function readCapped(body: ReadableStream<Uint8Array>, limit: number): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new RangeError(`JSON Web Key Set response is larger than ${limit} bytes`);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * The fetch jose is given: the whole body is read here, within jose's timeout signal and the
 * size cap, and handed back as a buffered response.
 */
export function cappedFetch(
  client: Deno.HttpClient | undefined,
  limit = MAX_JWKS_BYTES,
): (url: string, init: RequestInit) => Promise<Response> {
  return async function fetchJwks(url, init) {
    const res = await fetch(url, client ? { ...init, client } : init);
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      return new Response(null, { status: res.status });
    }
    const declared = Number(res.headers.get("content-length") ?? NaN);
    if (declared > limit) {
      await res.body?.cancel().catch(() => {});
      throw new RangeError(`JSON Web Key Set response is larger than ${limit} bytes`);
    }
    const bytes = res.body ? await readCapped(res.body, limit) : new Uint8Array();
    return new Response(bytes as Uint8Array<ArrayBuffer>, {
      status: 200,
      headers: { "content-type": res.headers.get("content-type") ?? "application/json" },
    });
  };
}

export function jwksVerifier(url: string, caPem: string, opts: JwksOptions = {}): Verifier {
  const client = caPem ? Deno.createHttpClient({ caCerts: [caPem] }) : undefined;
  const jwks = createRemoteJWKSet(new URL(url), {
    cooldownDuration: opts.cooldownMs ?? JWKS_COOLDOWN_MS,
    timeoutDuration: opts.timeoutMs,
    [customFetch]: cappedFetch(client),
  });
  return {
    async verify(token, opts) {
      try {
        return (await jwtVerify(token, jwks, opts)).payload;
      } catch (e) {
        // Several keys fit a token without "kid": jose hands them over to try one by one.
        if ((e as { code?: string }).code !== "ERR_JWKS_MULTIPLE_MATCHING_KEYS") throw e;
        const candidates = e as unknown as AsyncIterable<CryptoKey>;
        for await (const key of candidates) {
          try {
            return (await jwtVerify(token, key, opts)).payload;
          } catch (inner) {
            if (!isWrongKey(inner)) throw inner;
          }
        }
        throw Object.assign(new Error("no key in the set verified the token"), {
          code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
        });
      }
    },
    check: () => jwks.reload(),
    close() {
      client?.close();
    },
  };
}
