/**
 * AES-256-GCM with the storage key as associated data, so a ciphertext copied to another key
 * fails to open. Layout: version(1) ‖ term(4, big-endian) ‖ nonce(12) ‖ ciphertext ‖ tag(16).
 * node:crypto is used because it is synchronous: the hot read path avoids a promise per decrypt.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const VERSION = 1;
const HEADER = 1 + 4 + 12;

export class DecryptError extends Error {
  constructor() {
    super("decryption failed");
    this.name = "DecryptError";
  }
}

export function seal(
  key: Uint8Array,
  term: number,
  aad: string,
  plaintext: Uint8Array,
): Uint8Array {
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(Buffer.from(aad));
  const body = c.update(plaintext);
  const fin = c.final();
  const tag = c.getAuthTag();
  const out = new Uint8Array(HEADER + body.length + fin.length + 16);
  out[0] = VERSION;
  new DataView(out.buffer).setUint32(1, term);
  out.set(nonce, 5);
  out.set(body, HEADER);
  out.set(fin, HEADER + body.length);
  out.set(tag, HEADER + body.length + fin.length);
  return out;
}

/** The key term a ciphertext was written under (0 when the blob is malformed). */
export function termOf(blob: Uint8Array): number {
  if (blob.length < HEADER + 16 || blob[0] !== VERSION) return 0;
  return new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(1);
}

export function open(key: Uint8Array, aad: string, blob: Uint8Array): Uint8Array {
  if (blob.length < HEADER + 16 || blob[0] !== VERSION) throw new DecryptError();
  try {
    const d = createDecipheriv("aes-256-gcm", key, blob.subarray(5, HEADER));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(blob.subarray(blob.length - 16));
    const a = d.update(blob.subarray(HEADER, blob.length - 16));
    const b = d.final();
    if (b.length === 0) return new Uint8Array(a.buffer, a.byteOffset, a.length);
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  } catch {
    throw new DecryptError();
  }
}
