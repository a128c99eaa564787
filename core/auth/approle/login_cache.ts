/**
 * What a successful login with a reusable secret-id read (role-id owner, role, secret-id entry),
 * kept so the next login with the same credential skips three storage reads and their AES-GCM
 * opens. An entry is only good while the mount's write epoch has not moved since it was read;
 * any role, secret-id or salt write in the mount drops all of them. Keys are the HMACs login
 * already computes, so no role-id or secret-id is held here; the values are what storage holds.
 *
 * Only successes are cached and a cached credential that fails any check is re-read from
 * storage, so every failed login still does exactly the reads it did before (login.ts).
 */
import { deepFreeze } from "../../../lib/freeze.ts";
import type { Role } from "./role.ts";
import type { SecretIdEntry } from "./secret_id.ts";
import type { WriteEpochView } from "./write_epoch.ts";

export interface CachedLogin {
  name: string;
  role: Readonly<Role>;
  /** null when the role does not bind secret-ids. */
  entry: Readonly<SecretIdEntry> | null;
}

/** Entries kept; clearing wholesale when full is cheaper than tracking recency. */
const MAX_ENTRIES = 10_000;

export class LoginCache {
  readonly #view: WriteEpochView;
  readonly #entries = new Map<string, CachedLogin>();
  #epoch = -1;

  constructor(view: WriteEpochView) {
    this.#view = view;
  }

  /** Read before the storage reads a later `set` will store. */
  get epoch(): number {
    return this.#view.epoch;
  }

  get(roleIdHmac: string, secretHmac: string): CachedLogin | undefined {
    this.#sync();
    return this.#entries.get(`${roleIdHmac}:${secretHmac}`);
  }

  /** Stores what was read under `epoch`; ignored if the mount has been written since. */
  set(roleIdHmac: string, secretHmac: string, epoch: number, v: CachedLogin): void {
    this.#sync();
    if (epoch !== this.#epoch) return;
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    // Frozen: the objects are shared by every login that hits, none may change them.
    this.#entries.set(`${roleIdHmac}:${secretHmac}`, deepFreeze(v));
  }

  get size(): number {
    this.#sync();
    return this.#entries.size;
  }

  #sync(): void {
    const now = this.#view.epoch;
    if (now !== this.#epoch) {
      this.#entries.clear();
      this.#epoch = now;
    }
  }
}
