/**
 * Crypto helpers on Web APIs only. The agent imports these instead of lib/crypto.ts, whose
 * `node:crypto` import alone adds ~5 MB to a process; core gets the same functions through
 * lib/crypto.ts, so there is one implementation of each.
 */

/** Constant-time equality; different lengths compare false after the same amount of work. */
export function constantTimeEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  // Two strings compare code unit by code unit: encoding both (every token lookup does this
  // compare) costs more than the compare, and UTF-16 units are as exact as UTF-8 bytes.
  if (typeof a === "string" && typeof b === "string") {
    const n = Math.max(a.length, b.length);
    let diff = a.length ^ b.length;
    for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
    return diff === 0;
  }
  const enc = new TextEncoder();
  const x = typeof a === "string" ? enc.encode(a) : a;
  const y = typeof b === "string" ? enc.encode(b) : b;
  const n = Math.max(x.length, y.length);
  let diff = x.length ^ y.length;
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

const B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Uniform base62 string (rejection sampling so no character is favoured). */
export function randomBase62(len: number): string {
  let out = "";
  while (out.length < len) {
    for (const b of crypto.getRandomValues(new Uint8Array(len * 2))) {
      if (b < 248) out += B62[b % 62];
      if (out.length === len) break;
    }
  }
  return out;
}
