/**
 * Response wrapping: the real response is stored (encrypted) behind a single-use token and the
 * client gets only `wrap_info`. Unwrapping returns it exactly once: the record is deleted and
 * the token revoked before the response leaves, under a per-token lock so two concurrent
 * unwraps cannot both succeed. This is how a secret-id reaches a device safely.
 */
import { BadRequest } from "../lib/errors.ts";
import { RESPONSE_WRAPPING_POLICY } from "../lib/fields.ts";
import { sha256Hex } from "../lib/crypto.ts";
import { readJSON, rfc3339, type StorageView, writeJSON } from "../engines/sdk.ts";
import type { TokenStore } from "./token/token_store.ts";

export const MAX_WRAP_TTL = 24 * 3600;

interface WrapRecord {
  response: Record<string, unknown>;
  creation_time: string;
  creation_path: string;
  creation_ttl: number;
}

export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
  wrapped_accessor: string;
}

const INVALID = "wrapping token is not valid or does not exist";

/** Vault's reply to a wrapped request: the envelope carries only wrap_info. */
export function wrappedEnvelope(requestId: string, info: WrapInfo): Record<string, unknown> {
  return {
    request_id: requestId,
    lease_id: "",
    renewable: false,
    lease_duration: 0,
    data: null,
    wrap_info: info,
    warnings: null,
    auth: null,
  };
}

export class Wrapping {
  readonly #s: StorageView;
  readonly #tokens: TokenStore;
  readonly #now: () => number;
  #locks = new Map<string, Promise<unknown>>();

  constructor(storage: StorageView, tokens: TokenStore, now: () => number) {
    this.#s = storage;
    this.#tokens = tokens;
    this.#now = now;
  }

  async wrap(
    response: Record<string, unknown>,
    ttl: number,
    creationPath: string,
    wrappedAccessor = "",
  ): Promise<WrapInfo> {
    if (ttl <= 0 || ttl > MAX_WRAP_TTL) {
      throw new BadRequest(`wrap TTL must be between 1s and ${MAX_WRAP_TTL}s`);
    }
    const { token, entry } = await this.#tokens.create({
      policies: [RESPONSE_WRAPPING_POLICY],
      parent: null,
      ttl,
      explicitMaxTtl: ttl,
      renewable: false,
      displayName: "response-wrapping",
      path: creationPath,
    });
    const creation_time = rfc3339(this.#now());
    await writeJSON(
      this.#s,
      entry.id,
      {
        response,
        creation_time,
        creation_path: creationPath,
        creation_ttl: ttl,
      } satisfies WrapRecord,
    );
    return {
      token,
      accessor: entry.accessor,
      ttl,
      creation_time,
      creation_path: creationPath,
      wrapped_accessor: wrappedAccessor,
    };
  }

  async #record(token: string): Promise<{ id: string; rec: WrapRecord } | null> {
    if (!token) return null;
    const id = sha256Hex(token);
    const rec = await readJSON<WrapRecord>(this.#s, id);
    if (!rec) return null;
    // An expired wrapping token is gone for good, even if the sweep has not run yet.
    if (!await this.#tokens.lookupById(id)) {
      await this.#s.delete(id);
      return null;
    }
    return { id, rec };
  }

  async lookup(token: string): Promise<Record<string, unknown>> {
    const r = await this.#record(token);
    if (!r) throw new BadRequest(INVALID);
    return {
      creation_path: r.rec.creation_path,
      creation_time: r.rec.creation_time,
      creation_ttl: r.rec.creation_ttl,
    };
  }

  /** The wrapped response, once; every later call fails. */
  unwrap(token: string): Promise<Record<string, unknown>> {
    return this.#consume(token, (r) => Promise.resolve(r.rec.response));
  }

  /**
   * Vault's rewrap: the same response behind a new token with the original creation TTL and
   * path; the old token stops working. The new record is stored before the old one goes, so a
   * failure in between leaves the secret reachable (by the old token), never lost.
   */
  rewrap(token: string): Promise<WrapInfo> {
    return this.#consume(
      token,
      (r) => this.wrap(r.rec.response, r.rec.creation_ttl, r.rec.creation_path),
    );
  }

  /**
   * Runs `use` on the token's record, then deletes the record and revokes the token, under a
   * per-token lock so two concurrent calls cannot both succeed.
   */
  #consume<T>(token: string, use: (r: { id: string; rec: WrapRecord }) => Promise<T>): Promise<T> {
    const id = token ? sha256Hex(token) : "";
    const prev = this.#locks.get(id) ?? Promise.resolve();
    const run = prev.catch(() => {}).then(async () => {
      const r = await this.#record(token);
      if (!r) throw new BadRequest(INVALID);
      const out = await use(r);
      await this.#s.delete(r.id);
      await this.#tokens.revoke(r.id);
      return out;
    });
    this.#locks.set(id, run);
    run.finally(() => {
      if (this.#locks.get(id) === run) this.#locks.delete(id);
    }).catch(() => {});
    return run;
  }
}
