/**
 * The barrier: every value above it is encrypted with the keyring's active term, with the
 * storage key as AAD. While sealed it holds no keys and refuses every call, so nothing above it
 * can read or write plaintext.
 */
import { Sealed } from "../../lib/errors.ts";
import type { PhysicalOp, PhysicalStorage } from "../storage/storage.ts";
import { childNames } from "../storage/storage.ts";
import { open, seal, termOf } from "./aead.ts";
import type { Keyring } from "./keyring.ts";
import { PlaintextCache } from "./plaintext_cache.ts";
import type { StorageView, WriteOp } from "../../engines/sdk.ts";
import { deepFreeze } from "../../lib/freeze.ts";

export const KEYRING_PATH = "core/keyring";

const textDecoder = new TextDecoder();

/** Default memory for decrypted hot values (see plaintext_cache.ts); 0 turns the cache off. */
export const PLAINTEXT_CACHE_BYTES = 16 * 1024 * 1024;

export class Barrier implements StorageView {
  readonly physical: PhysicalStorage;
  #keyring: Keyring | null = null;
  #encryptions = 0;
  readonly #plain: PlaintextCache;

  constructor(physical: PhysicalStorage, opts: { plaintextCacheBytes?: number } = {}) {
    this.physical = physical;
    this.#plain = new PlaintextCache(opts.plaintextCacheBytes ?? PLAINTEXT_CACHE_BYTES);
  }

  get sealed(): boolean {
    return this.#keyring === null;
  }

  get keyring(): Keyring {
    if (!this.#keyring) throw new Sealed();
    return this.#keyring;
  }

  get encryptions(): number {
    return this.#encryptions;
  }

  unsealWith(keyring: Keyring): void {
    this.#keyring = keyring;
  }

  /** Switches to a rotated keyring (already persisted by the caller). */
  replaceKeyring(keyring: Keyring): void {
    this.#keyring = keyring;
    this.#encryptions = 0;
  }

  /** How many decrypted values are held (for tests and metrics). */
  get cachedPlaintexts(): number {
    return this.#plain.size;
  }

  seal(): void {
    this.#keyring?.wipe();
    this.#keyring = null;
    this.#plain.wipe();
  }

  encrypt(key: string, value: Uint8Array): Uint8Array {
    const active = this.keyring.active;
    this.#encryptions++;
    return seal(active.key, active.term, key, value);
  }

  decrypt(key: string, blob: Uint8Array): Uint8Array {
    const t = this.keyring.term(termOf(blob));
    if (!t) throw new Error(`no key term for stored value`);
    return open(t.key, key, blob);
  }

  async get(key: string): Promise<Uint8Array | null> {
    if (this.sealed) throw new Sealed();
    const blob = await this.physical.get(key);
    if (!blob) return null;
    const hit = this.#plain.get(key, blob);
    if (hit) return hit;
    const plain = this.decrypt(key, blob);
    this.#plain.set(key, blob, plain);
    return plain;
  }

  /**
   * The stored JSON value at `key`, parsed once per stored version and deep-frozen: hot reads
   * (a KV secret, its metadata) skip the copy, the decode and the parse. Parsed values are
   * plain JS objects, so unlike the byte cache they cannot be zeroed on seal; they are dropped
   * with it.
   */
  async getShared(key: string): Promise<unknown> {
    if (this.sealed) throw new Sealed();
    const blob = await this.physical.get(key);
    if (!blob) return null;
    const hit = this.#plain.shared(key, blob);
    if (hit !== undefined) return hit;
    let plain = this.#plain.get(key, blob);
    if (!plain) {
      plain = this.decrypt(key, blob);
      this.#plain.set(key, blob, plain);
    }
    const value = deepFreeze(JSON.parse(textDecoder.decode(plain)));
    plain.fill(0);
    this.#plain.setShared(key, blob, value);
    return value;
  }

  /**
   * getShared() answered from memory without waiting, or undefined when that would need the disk
   * or a parse (then call getShared). Sealed: undefined, and getShared refuses.
   */
  peekShared(key: string): unknown {
    if (this.sealed) return undefined;
    const blob = this.physical.peek?.(key);
    return blob ? this.#plain.shared(key, blob) : undefined;
  }

  put(key: string, value: Uint8Array): Promise<void> {
    return this.transaction([{ op: "put", key, value }]);
  }

  delete(key: string): Promise<void> {
    return this.transaction([{ op: "delete", key }]);
  }

  batch(ops: WriteOp[]): Promise<void> {
    return this.transaction(ops);
  }

  keys(prefix: string, limit?: number): Promise<string[]> {
    if (this.sealed) return Promise.reject(new Sealed());
    return this.physical.keys(prefix, limit);
  }

  async list(prefix: string): Promise<string[]> {
    return childNames(prefix, await this.keys(prefix));
  }

  /** Encrypts every put, then hands the ops to storage as one durable transaction. */
  transaction(ops: WriteOp[]): Promise<void> {
    if (this.sealed) return Promise.reject(new Sealed());
    // Not needed for correctness (entries are checked against the stored blob), but the old
    // plaintext should not outlive the write in memory.
    for (const o of ops) this.#plain.delete(o.key);
    const phys: PhysicalOp[] = ops.map((o) =>
      o.op === "put" ? { op: "put", key: o.key, value: this.encrypt(o.key, o.value) } : o
    );
    return this.physical.transaction(phys).then(() => {});
  }

  view(prefix: string): StorageView {
    return new BarrierView(this, prefix);
  }
}

/** A "chroot" of the barrier: every key gets the prefix, so a mount sees only its own data. */
export class BarrierView implements StorageView {
  readonly #b: Barrier;
  readonly prefix: string;

  constructor(b: Barrier, prefix: string) {
    this.#b = b;
    this.prefix = prefix;
  }

  get(key: string): Promise<Uint8Array | null> {
    return this.#b.get(this.prefix + key);
  }
  getShared(key: string): Promise<unknown> {
    return this.#b.getShared(this.prefix + key);
  }
  peekShared(key: string): unknown {
    return this.#b.peekShared(this.prefix + key);
  }
  put(key: string, value: Uint8Array): Promise<void> {
    return this.#b.put(this.prefix + key, value);
  }
  delete(key: string): Promise<void> {
    return this.#b.delete(this.prefix + key);
  }
  list(prefix: string): Promise<string[]> {
    return this.#b.list(this.prefix + prefix);
  }
  batch(ops: WriteOp[]): Promise<void> {
    return this.#b.transaction(ops.map((o) => ({ ...o, key: this.prefix + o.key })));
  }
  /** Every key under the view (for deleting a whole mount). */
  async allKeys(): Promise<string[]> {
    return (await this.#b.keys(this.prefix)).map((k) => k.slice(this.prefix.length));
  }
}
