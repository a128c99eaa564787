/** Userpass user records in the mount's (encrypted) storage. Only the scrypt hash is kept. */
import { readJSON, type StorageView, writeJSON } from "../../../engines/sdk.ts";
import type { PasswordHash } from "./password.ts";
import { NO_TOKEN_PARAMS, type TokenParams, tokenParamsView } from "../token_fields.ts";

export interface UserRecord extends TokenParams {
  password_hash: PasswordHash;
}

const PREFIX = "users/";

/** Vault treats usernames case-insensitively. */
export function normalizeUsername(name: string): string {
  return name.toLowerCase();
}

export class UserStore {
  readonly #s: StorageView;

  constructor(storage: StorageView) {
    this.#s = storage;
  }

  async get(name: string): Promise<UserRecord | null> {
    const stored = await readJSON<UserRecord>(this.#s, PREFIX + name);
    // A user stored when only five token fields were kept takes the others' defaults.
    return stored && { ...NO_TOKEN_PARAMS, ...stored };
  }

  put(name: string, u: UserRecord): Promise<void> {
    return writeJSON(this.#s, PREFIX + name, u);
  }

  delete(name: string): Promise<void> {
    return this.#s.delete(PREFIX + name);
  }

  async list(): Promise<string[]> {
    return (await this.#s.list(PREFIX)).filter((k) => !k.endsWith("/")).sort();
  }
}

/** What a read returns: the token settings, never the hash. */
export function userView(u: UserRecord): Record<string, unknown> {
  return tokenParamsView(u);
}
