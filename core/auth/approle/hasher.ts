/**
 * Keyed hashing of role-ids and secret-ids. Physical storage keys are not encrypted, and a
 * secret-id must never be recoverable from storage, so both are stored only as HMAC-SHA256 under
 * a random salt private to the mount: without the salt (which lives behind the barrier) a leaked
 * key name cannot even be checked against a guessed secret-id.
 */
import { HmacSha256 } from "../../../lib/sha256.ts";
import { fromBase64, randomKey, toBase64 } from "../../../lib/crypto.ts";
import type { StorageView } from "../../../engines/sdk.ts";
import { readJSON, writeJSON } from "../../../engines/sdk.ts";

export const SALT_KEY = "salt";

export class Hasher {
  readonly #mac: HmacSha256;

  constructor(key: Uint8Array) {
    this.#mac = new HmacSha256(key);
  }

  #tag(domain: string, value: string): string {
    // The domain prefix keeps a role-id and a secret-id with the same text from colliding.
    return this.#mac.hex(`${domain}\0${value}`);
  }

  roleId(value: string): string {
    return this.#tag("role_id", value);
  }

  secretId(value: string): string {
    return this.#tag("secret_id", value);
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
