/** Small crypto helpers shared by core and agent. No side effects at import. */
import { randomBytes } from "node:crypto";

export { constantTimeEqual, randomBase62 } from "./web_crypto.ts";
// Not node:crypto: its hash ops stall the event loop on this Deno (see lib/sha256.ts).
export { sha256Hex } from "./sha256.ts";

export function randomKey(bytes = 32): Uint8Array {
  return new Uint8Array(randomBytes(bytes));
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
