/**
 * Password hashing with scrypt (memory-hard, so GPU/ASIC guessing of a stolen database is
 * expensive). The parameters are stored with each hash: they can be raised later and old hashes
 * still verify.
 */
import { randomBytes, scrypt } from "node:crypto";
import { promisify } from "node:util";
import { constantTimeEqual, fromBase64, toBase64 } from "../../../lib/crypto.ts";

export interface PasswordHash {
  alg: "scrypt";
  /** CPU/memory cost (a power of two). */
  n: number;
  r: number;
  p: number;
  /** Base64. */
  salt: string;
  /** Base64 derived key. */
  hash: string;
}

export interface ScryptParams {
  n: number;
  r: number;
  p: number;
}

/** 2^15 × 8 × 128 B = 32 MiB of memory per guess. */
export const DEFAULT_PARAMS: ScryptParams = { n: 2 ** 15, r: 8, p: 1 };
const KEY_BYTES = 32;

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Uint8Array,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Uint8Array>;

function derive(password: string, salt: Uint8Array, p: ScryptParams): Promise<Uint8Array> {
  // OpenSSL's default 32 MiB cap is exactly what N=2^15,r=8 needs and its check is exclusive.
  const maxmem = 2 * 128 * p.n * p.r * p.p + 1024 * 1024;
  return scryptAsync(password, salt, KEY_BYTES, { N: p.n, r: p.r, p: p.p, maxmem });
}

export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_PARAMS,
): Promise<PasswordHash> {
  const salt = new Uint8Array(randomBytes(16));
  const key = await derive(password, salt, params);
  return { alg: "scrypt", ...params, salt: toBase64(salt), hash: toBase64(key) };
}

export async function verifyPassword(password: string, h: PasswordHash): Promise<boolean> {
  if (h.alg !== "scrypt") return false;
  const key = await derive(password, fromBase64(h.salt), h);
  return constantTimeEqual(key, fromBase64(h.hash));
}

let dummy: Promise<PasswordHash> | null = null;

/**
 * A hash of a random password nobody knows. Unknown users are checked against it so they cost
 * the same scrypt work as real ones and cannot be told apart by timing.
 */
export function dummyHash(): Promise<PasswordHash> {
  dummy ??= hashPassword(toBase64(new Uint8Array(randomBytes(24))));
  return dummy;
}
