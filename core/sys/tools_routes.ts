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

const hashSchema = v.object({
  input: v.pipe(v.string("input (base64) is required"), v.minLength(0)),
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

/** Standard base64 as Go's StdEncoding reads it: padding required, nothing else allowed. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function hash(r: CoreRequest): Promise<CoreResponse> {
  const d = r.data as v.InferOutput<typeof hashSchema>;
  const name = r.params.algorithm || d.algorithm || "sha2-256";
  const algorithm = Object.hasOwn(ALGORITHMS, name) ? ALGORITHMS[name]! : null;
  if (!algorithm) throw new BadRequest(`unsupported algorithm type "${name}"`);
  const e = encoding(d.format, "hex");
  // Go's StdEncoding skips line breaks (base64(1) wraps at 76 columns).
  const input = d.input.replace(/[\r\n]/g, "");
  if (!BASE64.test(input)) throw new BadRequest("unable to decode input as base64");
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
    throw new BadRequest(`unsupported entropy source "${source}"; must be "platform" or "all"`);
  }
  let bytes = d.bytes ?? 32;
  if (urlBytes !== undefined) {
    if (!/^\d{1,9}$/.test(urlBytes)) throw new BadRequest(`invalid number of bytes "${urlBytes}"`);
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
