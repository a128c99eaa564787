/**
 * An HMAC key kept behind the barrier (random, made on first use), for storage keys named after
 * values that must not appear in clear, such as token accessors: storage keys are not encrypted,
 * and a plain hash would let anyone holding the value confirm it in a copied database.
 */
import { fromBase64, randomKey, toBase64 } from "../../lib/crypto.ts";
import { HmacSha256 } from "../../lib/sha256.ts";
import { readJSON, type StorageView, writeJSON } from "../../engines/sdk.ts";

export class SaltedHmac {
  readonly #s: StorageView;
  readonly #path: string;
  readonly #ready: ((mac: HmacSha256) => Promise<void>) | undefined;
  #mac: Promise<HmacSha256> | null = null;

  /** `ready` runs once on the loaded key before any caller gets it (an index migration). */
  constructor(storage: StorageView, path: string, ready?: (mac: HmacSha256) => Promise<void>) {
    this.#s = storage;
    this.#path = path;
    this.#ready = ready;
  }

  /** The key; concurrent first callers share one load, so they cannot each make a different one. */
  get(): Promise<HmacSha256> {
    this.#mac ??= this.#load().catch((e) => {
      this.#mac = null;
      throw e;
    });
    return this.#mac;
  }

  async #load(): Promise<HmacSha256> {
    const stored = await readJSON<{ key: string }>(this.#s, this.#path);
    const key = stored ? fromBase64(stored.key) : randomKey(32);
    if (!stored) await writeJSON(this.#s, this.#path, { key: toBase64(key) });
    const mac = new HmacSha256(key);
    key.fill(0);
    if (this.#ready) await this.#ready(mac);
    return mac;
  }

  /** Forgets the key (on seal); the next get() loads it again. */
  wipe(): void {
    const mac = this.#mac;
    this.#mac = null;
    mac?.then((m) => m.wipe(), () => {});
  }
}
