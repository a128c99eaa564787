/**
 * Data keys with terms. New writes use the newest term; old terms stay so old data still reads.
 * The keyring itself is stored encrypted under the root key (from the seal) at `core/keyring`.
 */
import { fromBase64, randomKey, toBase64 } from "../../lib/crypto.ts";

export interface KeyTerm {
  term: number;
  key: Uint8Array;
  installTime: string;
}

interface StoredKeyring {
  terms: { term: number; key: string; install_time: string }[];
}

export class Keyring {
  #terms = new Map<number, KeyTerm>();
  #active!: KeyTerm;

  static create(now = new Date()): Keyring {
    const k = new Keyring();
    k.#add({ term: 1, key: randomKey(), installTime: now.toISOString() });
    return k;
  }

  static fromJSON(bytes: Uint8Array): Keyring {
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as StoredKeyring;
    const k = new Keyring();
    for (const t of parsed.terms) {
      k.#add({ term: t.term, key: fromBase64(t.key), installTime: t.install_time });
    }
    return k;
  }

  #add(t: KeyTerm): void {
    this.#terms.set(t.term, t);
    if (!this.#active || t.term > this.#active.term) this.#active = t;
  }

  /** A copy with one more term; the caller persists it before switching to it. */
  rotated(now = new Date()): Keyring {
    const k = new Keyring();
    for (const t of this.#terms.values()) k.#add(t);
    k.#add({ term: this.#active.term + 1, key: randomKey(), installTime: now.toISOString() });
    return k;
  }

  get active(): KeyTerm {
    return this.#active;
  }

  term(n: number): KeyTerm | undefined {
    return this.#terms.get(n);
  }

  toJSON(): Uint8Array {
    const stored: StoredKeyring = {
      terms: [...this.#terms.values()].map((t) => ({
        term: t.term,
        key: toBase64(t.key),
        install_time: t.installTime,
      })),
    };
    return new TextEncoder().encode(JSON.stringify(stored));
  }

  /** Overwrites key bytes so a sealed process holds no usable key material. */
  wipe(): void {
    for (const t of this.#terms.values()) t.key.fill(0);
    this.#terms.clear();
  }
}
