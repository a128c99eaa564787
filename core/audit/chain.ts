import {
  AuditHmac,
  type AuditInput,
  type AuditRecord,
  canonicalize,
  GENESIS_HASH,
  HMAC_PREFIX,
  recordHashFromJson,
} from "./entry.ts";

export interface ChainHead {
  seq: number;
  hash: string;
}

/** The head of an empty chain: the first record gets seq 1 and prevHash GENESIS_HASH. */
export const GENESIS_HEAD: Readonly<ChainHead> = Object.freeze({ seq: 0, hash: GENESIS_HASH });

export const AUDIT_KEY_BYTES = 32;

const HEX64 = /^[0-9a-f]{64}$/;

// Accessors repeat across most requests; caching their tags saves an HMAC per entry. The cap
// bounds memory under accessor churn; clearing wholesale is cheaper than tracking recency.
const ACCESSOR_CACHE_MAX = 4096;

export function checkAuditKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== AUDIT_KEY_BYTES) {
    throw new TypeError(`audit key must be ${AUDIT_KEY_BYTES} bytes`);
  }
}

/** Validates a head and returns a copy. */
export function checkHead(head: ChainHead): ChainHead {
  const { seq, hash } = head;
  if (!Number.isSafeInteger(seq) || seq < 0) throw new TypeError("audit head: bad seq");
  if (typeof hash !== "string" || !HEX64.test(hash)) throw new TypeError("audit head: bad hash");
  // A fresh chain must start from the genesis hash, or seq 1 would never verify.
  if (seq === 0 && hash !== GENESIS_HASH) throw new TypeError("audit head: seq 0 needs genesis");
  return { seq, hash };
}

/**
 * Builds the hash chain. Single ordered writer: the caller must persist records in the order
 * append returns them, and call reset when a batch carrying records failed to commit, otherwise
 * the stored chain forks from the in-memory head.
 */
export class AuditChain {
  #hmac: AuditHmac;
  #seq: number;
  #hash: string;
  #accessorTags = new Map<string, string>();

  constructor(key: Uint8Array, head: ChainHead) {
    checkAuditKey(key);
    const h = checkHead(head);
    this.#hmac = new AuditHmac(key);
    this.#seq = h.seq;
    this.#hash = h.hash;
  }

  /** Synchronously builds the next record and advances the head. The caller persists it in order. */
  append(input: AuditInput): AuditRecord {
    // Everything that can throw runs before the head moves, so a failed append leaves no hole.
    const entry: Record<string, unknown> = {
      time: input.time,
      type: input.type,
      request_id: input.requestId,
      operation: input.operation,
      path: input.path,
      remote_address: input.remoteAddress,
      token_accessor: this.#accessorTag(input.tokenAccessor),
      policies: [...input.policies],
      result: input.result,
    };
    if (input.status !== undefined) entry.status = input.status;
    if (input.error !== undefined) entry.error = input.error;
    if (input.data !== undefined) entry.data = this.#hmac.redact(input.data);
    if (input.alert) entry.alert = true;
    if (input.response !== undefined) {
      entry.response_hmac = this.#hmac.tag(canonicalize(input.response));
    }

    const seq = this.#seq + 1;
    const prevHash = this.#hash;
    const entryJson = canonicalize(entry);
    const hash = recordHashFromJson(prevHash, seq, entryJson);
    const mac = this.#hmac.hex(hash);
    this.#seq = seq;
    this.#hash = hash;
    return { seq, prevHash, hash, mac, entry, entryJson };
  }

  /** Roll the head back (used when the batch that carried records failed to commit). */
  reset(head: ChainHead): void {
    const h = checkHead(head);
    this.#seq = h.seq;
    this.#hash = h.hash;
  }

  get head(): ChainHead {
    return { seq: this.#seq, hash: this.#hash };
  }

  /** On seal: drop the keyed state so nothing can be appended under a key the core has forgotten. */
  wipe(): void {
    this.#hmac.wipe();
    this.#accessorTags.clear();
  }

  #accessorTag(accessor: string): string {
    // Unauthenticated requests have no accessor; keeping "" lets operators tell them apart.
    if (accessor === "") return "";
    let tag = this.#accessorTags.get(accessor);
    if (tag === undefined) {
      tag = HMAC_PREFIX + this.#hmac.hex(accessor);
      if (this.#accessorTags.size >= ACCESSOR_CACHE_MAX) this.#accessorTags.clear();
      this.#accessorTags.set(accessor, tag);
    }
    return tag;
  }
}
