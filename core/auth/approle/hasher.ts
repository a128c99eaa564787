/**
 * Keyed hashing of role-ids and secret-ids. Physical storage keys are not encrypted, and a
 * secret-id must never be recoverable from storage, so both are stored only as HMAC-SHA256 under
 * a random salt private to the mount: without the salt (which lives behind the barrier) a leaked
 * key name cannot even be checked against a guessed secret-id.
 */
import { Buffer } from "node:buffer";
import { createHash, type Hash } from "node:crypto";
import { fromBase64, randomKey, toBase64 } from "../../../lib/crypto.ts";
import type { StorageView } from "../../../engines/sdk.ts";
import { readJSON, writeJSON } from "../../../engines/sdk.ts";

export const SALT_KEY = "salt";

export class Hasher {
  // HMAC-SHA256 (RFC 2104) with the key pads hashed once: createHmac re-derives them on every
  // call, which costs more than the MAC itself on a login. Same bytes (tests compare them).
  readonly #inner: Hash;
  readonly #outer: Hash;

  constructor(key: Uint8Array) {
    const k = key.length > 64 ? createHash("sha256").update(key).digest() : key;
    const ipad = Buffer.alloc(64, 0x36);
    const opad = Buffer.alloc(64, 0x5c);
    for (let i = 0; i < k.length; i++) {
      ipad[i] ^= k[i]!;
      opad[i] ^= k[i]!;
    }
    this.#inner = createHash("sha256").update(ipad);
    this.#outer = createHash("sha256").update(opad);
    ipad.fill(0);
    opad.fill(0);
  }

  #mac(domain: string, value: string): string {
    // The domain prefix keeps a role-id and a secret-id with the same text from colliding.
    const inner = this.#inner.copy().update(`${domain}\0${value}`).digest();
    return this.#outer.copy().update(inner).digest("hex");
  }

  roleId(value: string): string {
    return this.#mac("role_id", value);
  }

  secretId(value: string): string {
    return this.#mac("secret_id", value);
  }
}

/**
 * Returns a loader that reads the mount's salt, creating it on first use. The promise is shared
 * so concurrent first requests cannot each create (and overwrite) a different salt.
 */
export function hasherLoader(storage: StorageView): () => Promise<Hasher> {
  let pending: Promise<Hasher> | null = null;
  const load = async (): Promise<Hasher> => {
    const stored = await readJSON<{ key: string }>(storage, SALT_KEY);
    if (stored) return new Hasher(fromBase64(stored.key));
    const key = randomKey(32);
    await writeJSON(storage, SALT_KEY, { key: toBase64(key) });
    return new Hasher(key);
  };
  return () => {
    pending ??= load().catch((e) => {
      pending = null;
      throw e;
    });
    return pending;
  };
}
