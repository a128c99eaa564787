/** Small crypto helpers shared by core and agent. No side effects at import. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export function randomKey(bytes = 32): Uint8Array {
  return new Uint8Array(randomBytes(bytes));
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Constant-time equality; inputs of different length compare false without early exit on content. */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  const ab = typeof a === "string" ? Buffer.from(a) : Buffer.from(a);
  const bb = typeof b === "string" ? Buffer.from(b) : Buffer.from(b);
  if (ab.length !== bb.length) {
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

const B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Uniform base62 string (rejection sampling so no character is favoured). */
export function randomBase62(len: number): string {
  let out = "";
  while (out.length < len) {
    for (const b of randomBytes(len * 2)) {
      if (b < 248) out += B62[b % 62];
      if (out.length === len) break;
    }
  }
  return out;
}

export function toBase64(b: Uint8Array): string {
  return Buffer.from(b).toString("base64");
}

export function fromBase64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, "base64"));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

export function uuid(): string {
  return crypto.randomUUID();
}
