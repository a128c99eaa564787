/**
 * Seal lifecycle: init splits a fresh root key into shares and stores the keyring encrypted under
 * it; unseal collects shares, rebuilds the root key and proves it by opening the keyring (a wrong
 * share set fails GCM authentication and resets progress). The root key stays in memory only
 * while unsealed, so `sys/rotate` can re-wrap the keyring; sealing wipes it.
 */
import { BadRequest } from "../../lib/errors.ts";
import { fromBase64, randomKey, uuid } from "../../lib/crypto.ts";
import { DecryptError, open, seal as aeadSeal } from "../barrier/aead.ts";
import { KEYRING_PATH } from "../barrier/barrier.ts";
import { Keyring } from "../barrier/keyring.ts";
import type { PhysicalStorage } from "../storage/storage.ts";
import { combineShares, splitKey } from "./shamir.ts";

const SEAL_CONFIG_PATH = "core/seal-config";

export interface SealConfig {
  type: "shamir";
  secret_shares: number;
  secret_threshold: number;
}

export interface SealStatus {
  initialized: boolean;
  sealed: boolean;
  t: number;
  n: number;
  progress: number;
}

/** Parses a share given as hex or base64 (Vault tries hex first). */
export function decodeShare(s: string): Uint8Array {
  const t = s.trim();
  if (/^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0 && (t.length === 64 || t.length === 66)) {
    return new Uint8Array(t.match(/../g)!.map((h) => parseInt(h, 16)));
  }
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(t)) {
    const b = fromBase64(t);
    if (b.length === 32 || b.length === 33) return b;
  }
  throw new BadRequest("'key' must be a valid hex or base64 string");
}

export class ShamirSeal {
  readonly #physical: PhysicalStorage;
  #config: SealConfig | null = null;
  #pending: Uint8Array[] = [];
  /**
   * Vault's unseal nonce: names the unseal in progress (one UUID from its first share until it
   * completes, fails or is reset), so operators handing in shares can tell they add to the same
   * attempt. "" while none is.
   */
  #nonce = "";

  constructor(physical: PhysicalStorage) {
    this.#physical = physical;
  }

  async load(): Promise<void> {
    const raw = await this.#physical.get(SEAL_CONFIG_PATH);
    this.#config = raw ? JSON.parse(new TextDecoder().decode(raw)) : null;
  }

  get config(): SealConfig | null {
    return this.#config;
  }

  get progress(): number {
    return this.#pending.length;
  }

  get nonce(): string {
    return this.#nonce;
  }

  resetProgress(): void {
    for (const p of this.#pending) p.fill(0);
    this.#pending = [];
    this.#nonce = "";
  }

  /** Creates root key + keyring; returns the shares and the keyring (the caller finishes init). */
  async initialize(
    shares: number,
    threshold: number,
  ): Promise<{ shares: Uint8Array[]; keyring: Keyring; rootKey: Uint8Array }> {
    if (this.#config) throw new BadRequest("Vault is already initialized");
    const rootKey = randomKey(32);
    const parts = await splitKey(rootKey, shares, threshold);
    const keyring = Keyring.create();
    const config: SealConfig = {
      type: "shamir",
      secret_shares: shares,
      secret_threshold: threshold,
    };
    await this.#physical.transaction([
      { op: "put", key: KEYRING_PATH, value: aeadSeal(rootKey, 0, KEYRING_PATH, keyring.toJSON()) },
      {
        op: "put",
        key: SEAL_CONFIG_PATH,
        value: new TextEncoder().encode(JSON.stringify(config)),
      },
    ]);
    this.#config = config;
    return { shares: parts, keyring, rootKey };
  }

  /**
   * Adds one share. Returns the keyring once the threshold is met and the rebuilt key opens it;
   * throws BadRequest (and resets progress) when the shares do not form the right key.
   */
  async submit(share: Uint8Array): Promise<{ keyring: Keyring; rootKey: Uint8Array } | null> {
    const cfg = this.#config;
    if (!cfg) throw new BadRequest("Vault is not initialized");
    if (this.#pending.some((p) => p.length === share.length && p.every((b, i) => b === share[i]))) {
      return null; // Vault ignores a repeated share rather than counting it twice
    }
    const expectLen = cfg.secret_shares === 1 ? 32 : 33;
    if (share.length !== expectLen) {
      this.resetProgress();
      throw new BadRequest("invalid key: wrong length for this seal's shares");
    }
    if (this.#pending.length === 0) this.#nonce = uuid();
    this.#pending.push(share.slice());
    if (this.#pending.length < cfg.secret_threshold) return null;
    const shares = this.#pending;
    this.#pending = [];
    this.#nonce = "";
    let rootKey: Uint8Array;
    try {
      rootKey = await combineShares(shares);
    } catch {
      throw new BadRequest("invalid key: the shares do not combine");
    } finally {
      for (const s of shares) s.fill(0);
    }
    try {
      return { keyring: await this.openKeyring(rootKey), rootKey };
    } catch (e) {
      rootKey.fill(0);
      if (e instanceof DecryptError) {
        throw new BadRequest("invalid key: the combined key did not open the keyring");
      }
      throw e;
    }
  }

  async openKeyring(rootKey: Uint8Array): Promise<Keyring> {
    const blob = await this.#physical.get(KEYRING_PATH);
    if (!blob) throw new Error("keyring missing from storage");
    return Keyring.fromJSON(open(rootKey, KEYRING_PATH, blob));
  }

  /** Re-wraps a (rotated) keyring under the root key held while unsealed. */
  async persistKeyring(keyring: Keyring, rootKey: Uint8Array): Promise<void> {
    await this.#physical.transaction([{
      op: "put",
      key: KEYRING_PATH,
      value: aeadSeal(rootKey, 0, KEYRING_PATH, keyring.toJSON()),
    }]);
  }
}
