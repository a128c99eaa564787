/**
 * sys/tools/hash(/:algorithm) and sys/tools/random(/:source)(/:bytes), as Vault's. The default
 * policy grants hash (it did before these routes existed); random needs a policy that names it.
 */
import { createHash } from "node:crypto";
import { BadRequest } from "../../lib/errors.ts";
import * as fields from "../../lib/fields.ts";
import { v } from "../../lib/fields.ts";
import { fromBase64, toBase64 } from "../../lib/crypto.ts";
import type { CorePathSpec, CoreRequest, CoreResponse } from "../router/types.ts";

/** Vault's names → node:crypto's. */
const ALGORITHMS: Record<string, string> = {
  "sha2-224": "sha224",
  "sha2-256": "sha256",
  "sha2-384": "sha384",
  "sha2-512": "sha512",
  "sha3-224": "sha3-224",
  "sha3-256": "sha3-256",
  "sha3-384": "sha3-384",
  "sha3-512": "sha3-512",
};

/** Vault's cap for one call (the seal source's; platform entropy is not scarce, but a reply is). */
export const MAX_RANDOM_BYTES = 128 * 1024;
const SOURCES = ["platform", "all"];

const format = v.optional(v.pipe(v.string(), v.maxLength(16)));

/**
 * Longest `input` (base64 characters, line breaks included) sys/tools/hash takes: 16 MiB, i.e.
 * 12 MiB of data. The request size limit alone (32 MiB by default) would allow more; this keeps
 * the copies the hash makes (the text without line breaks, the decoded bytes) small.
 */
export const MAX_HASH_INPUT = 16 * 1024 * 1024;

const hashSchema = v.object({
  input: v.pipe(
    v.string("input (base64) is required"),
    v.maxLength(MAX_HASH_INPUT, `is too long (at most ${MAX_HASH_INPUT} characters of base64)`),
  ),
  algorithm: v.optional(v.pipe(v.string(), v.maxLength(16))),
  format,
});

const randomSchema = v.object({
  bytes: v.optional(fields.int),
  format,
  source: v.optional(v.pipe(v.string(), v.maxLength(16))),
});

function encoding(f: string | undefined, fallback: "hex" | "base64"): "hex" | "base64" {
  // Absent means the default; an explicit "" is refused, as Vault does.
  const e = f ?? fallback;
  if (e !== "hex" && e !== "base64") {
    throw new BadRequest(`unsupported encoding format "${e}"; must be "hex" or "base64"`);
  }
  return e;
}

function encode(b: Uint8Array, e: "hex" | "base64"): string {
  return e === "hex" ? Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("") : toBase64(b);
}

/**
 * Standard base64 as Go's StdEncoding reads it: padding required, nothing else allowed. One
 * character class and a length check rather than a repeated group: V8 keeps backtracking state
 * for every repetition of a group, and a few megabytes of input overflow its stack (a 500).
 */
function isBase64(s: string): boolean {
  // With the length a multiple of 4, at most two "=" at the very end is exactly correct padding.
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

function hash(r: CoreRequest): Promise<CoreResponse> {
  const d = r.data as v.InferOutput<typeof hashSchema>;
  const name = r.params.algorithm || d.algorithm || "sha2-256";
  const algorithm = Object.hasOwn(ALGORITHMS, name) ? ALGORITHMS[name]! : null;
  if (!algorithm) throw new BadRequest(`unsupported algorithm type ${fields.quoted(name)}`);
  const e = encoding(d.format, "hex");
  // Go's StdEncoding skips line breaks (base64(1) wraps at 76 columns).
  const input = d.input.replace(/[\r\n]/g, "");
  if (!isBase64(input)) throw new BadRequest("unable to decode input as base64");
  const sum = createHash(algorithm).update(fromBase64(input)).digest();
  return Promise.resolve({ data: { sum: encode(new Uint8Array(sum), e) } });
}

/** `random/:a` is the byte count when it is a number, else the source (Vault's optional parts). */
function random(r: CoreRequest): Promise<CoreResponse> {
  const d = r.data as v.InferOutput<typeof randomSchema>;
  let source = d.source ?? "platform";
  let urlBytes: string | undefined;
  const { a, b } = r.params;
  if (b !== undefined) {
    source = a!;
    urlBytes = b;
  } else if (a !== undefined) {
    if (/^\d+$/.test(a)) urlBytes = a;
    else source = a;
  }
  if (!SOURCES.includes(source)) {
    throw new BadRequest(
      `unsupported entropy source ${fields.quoted(source)}; must be "platform" or "all"`,
    );
  }
  let bytes = d.bytes ?? 32;
  if (urlBytes !== undefined) {
    if (!/^\d{1,9}$/.test(urlBytes)) {
      throw new BadRequest(`invalid number of bytes ${fields.quoted(urlBytes)}`);
    }
    bytes = Number(urlBytes);
  }
  if (bytes < 1) throw new BadRequest(`"bytes" cannot be less than 1`);
  if (bytes > MAX_RANDOM_BYTES) {
    throw new BadRequest(`"bytes" cannot be greater than ${MAX_RANDOM_BYTES}`);
  }
  const e = encoding(d.format, "base64");
  const out = new Uint8Array(bytes);
  // getRandomValues fills at most 64 KiB a call.
  for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return Promise.resolve({ data: { random_bytes: encode(out, e) } });
}

export function toolsRoutes(): CorePathSpec[] {
  return [
    ...["tools/hash", "tools/hash/:algorithm"].map((pattern): CorePathSpec => ({
      pattern,
      input: { write: hashSchema },
      operations: { update: hash },
    })),
    ...["tools/random", "tools/random/:a", "tools/random/:a/:b"].map((pattern): CorePathSpec => ({
      pattern,
      input: { write: randomSchema },
      operations: { update: random },
    })),
  ];
}
