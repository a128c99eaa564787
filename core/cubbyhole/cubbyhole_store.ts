/**
 * Vault's cubbyhole: private storage per token, gone when the token is. Stored through the
 * barrier (a view on `sys/cubbyhole/`) as
 *   <hmac(accessor)>/<path>  → the JSON object written there
 *   salt                     → the HMAC key (random, behind the barrier)
 * Keyed by the token's accessor, since that is what a revocation reports; under a salt, as the
 * token and lease indexes are, so a copied database does not confirm an accessor. Paths are
 * stored as KV paths are: in the key, in clear.
 */
import { readJSON, type StorageView, writeJSON, type WriteOp } from "../../engines/sdk.ts";
import { SaltedHmac } from "../barrier/salted_hmac.ts";

const SALT = "salt";
/** A token's folder: 64 hex digits. */
const FOLDER = /^[0-9a-f]{64}\/$/;
const DELETE_CHUNK = 256;

export class CubbyholeStore {
  readonly #s: StorageView;
  readonly #mac: SaltedHmac;

  constructor(storage: StorageView) {
    this.#s = storage;
    this.#mac = new SaltedHmac(storage, SALT);
  }

  async #folder(accessor: string): Promise<string> {
    return `${(await this.#mac.get()).hex(`cubbyhole\0${accessor}`)}/`;
  }

  async read(accessor: string, path: string): Promise<Record<string, unknown> | null> {
    return await readJSON<Record<string, unknown>>(this.#s, await this.#folder(accessor) + path);
  }

  async write(accessor: string, path: string, data: Record<string, unknown>): Promise<void> {
    await writeJSON(this.#s, await this.#folder(accessor) + path, data);
  }

  async delete(accessor: string, path: string): Promise<void> {
    await this.#s.delete(await this.#folder(accessor) + path);
  }

  /** Immediate children of `folder` ("" or ending in "/"), sorted. */
  async list(accessor: string, folder: string): Promise<string[]> {
    return (await this.#s.list(await this.#folder(accessor) + folder)).sort();
  }

  /** Deletes everything the tokens with these accessors stored (they were revoked). */
  async destroy(accessors: string[]): Promise<void> {
    const keys: string[] = [];
    for (const a of accessors) {
      if (a) keys.push(...await this.#allUnder(await this.#folder(a)));
    }
    await this.#deleteKeys(keys);
  }

  /**
   * Deletes the folders of tokens that no longer exist (a crash between a revoke and its
   * destroy); `live` gives the accessors of every stored token. Returns how many folders went.
   * The folders are listed before the tokens are: a token made in between has no folder in the
   * list yet, so it cannot lose one it is writing.
   */
  async tidy(live: () => Promise<string[]>): Promise<number> {
    const folders = await this.#s.list("");
    const keep = new Set<string>();
    for (const a of await live()) keep.add(await this.#folder(a));
    let gone = 0;
    for (const f of folders) {
      if (!FOLDER.test(f) || keep.has(f)) continue;
      await this.#deleteKeys(await this.#allUnder(f));
      gone++;
    }
    return gone;
  }

  async #allUnder(prefix: string): Promise<string[]> {
    const out: string[] = [];
    for (const k of await this.#s.list(prefix)) {
      if (k.endsWith("/")) out.push(...await this.#allUnder(prefix + k));
      else out.push(prefix + k);
    }
    return out;
  }

  async #deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_CHUNK) {
      const ops: WriteOp[] = keys.slice(i, i + DELETE_CHUNK).map((key) => ({ op: "delete", key }));
      await this.#s.batch(ops);
    }
  }

  /** Forgets the salt's key (on seal). */
  wipe(): void {
    this.#mac.wipe();
  }
}
