/**
 * SHA-256 and HMAC-SHA256 for the request path, in JavaScript (@noble/hashes).
 *
 * Why not node:crypto: on Deno 2.9 its hash ops stall the event loop. Four `hash()` calls per
 * request took a plain Deno.serve app from p99 1.8 ms to 27 ms and event-loop lag spikes of
 * 20–40 ms under wrk (bench/hash_stall.ts reproduces it); in core that was the whole of the KV
 * read p99. WebCrypto's digest is async, a thread hop per hash. JavaScript costs more CPU per
 * byte but never blocks anything but its own call.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { hmac } from "@noble/hashes/hmac.js";
import { bytesToHex } from "@noble/hashes/utils.js";

const encoder = new TextEncoder();

function bytesOf(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

/** Hex SHA-256 of the concatenation of `parts` (strings as UTF-8). */
export function sha256Hex(...parts: (string | Uint8Array)[]): string {
  if (parts.length === 1) return bytesToHex(sha256(bytesOf(parts[0]!)));
  const h = sha256.create();
  for (const p of parts) h.update(bytesOf(p));
  return bytesToHex(h.digest());
}

export function sha256Bytes(data: string | Uint8Array): Uint8Array {
  return sha256(bytesOf(data));
}

/**
 * HMAC-SHA256 with the key schedule done once: the hash states already fed with the two key
 * pads are kept and cloned per call, so a tag costs only the message and one outer block.
 */
export class HmacSha256 {
  #base: ReturnType<typeof hmac.create> | null;

  constructor(key: Uint8Array) {
    this.#base = hmac.create(sha256, key);
  }

  bytes(data: string | Uint8Array): Uint8Array {
    if (this.#base === null) throw new Error("HMAC key has been wiped");
    return this.#base.clone().update(bytesOf(data)).digest();
  }

  hex(data: string | Uint8Array): string {
    return bytesToHex(this.bytes(data));
  }

  /** Zeroes the keyed states; later calls throw instead of silently using a stale key. */
  wipe(): void {
    this.#base?.destroy();
    this.#base = null;
  }
}
