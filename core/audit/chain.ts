import { constantTimeEqual } from "../../lib/crypto.ts";
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
 * Turns what the HTTP layer hands in into the stored entry: token accessor and every data string
 * HMAC'd, the response as one HMAC, and the canonical JSON the chain hashes. Runs on the request
 * thread; it holds no chain state, so entries can be built in any order.
 */
/** An entry as build() makes it (every field a string, number, boolean or plain data). */
interface StoredEntry {
  alert?: true;
  data?: unknown;
  error?: string;
  operation: string;
  path: string;
  policies: string[];
  remote_address: string;
  request_id: string;
  response?: unknown;
  response_hmac?: string;
  result: string;
  status?: number;
  time: string;
  token_accessor: string;
  type: string;
}

/**
 * canonicalize(entry) without sorting keys on every request: JSON.stringify of an object whose
 * keys are created in sorted order. JSON.stringify escapes strings exactly as canonicalize does
 * and drops undefined fields as it does. It also returns one flat string, where `+` built a rope
 * of ~60 pieces that the message to the storage writer had to flatten: building, joining and
 * flattening an entry went from 1.29 to 0.95 µs here. `data` keeps canonicalize, since an
 * object with integer-like keys does not enumerate them in sorted order; it sorts first after
 * `alert`. Tests hold the result byte-equal to canonicalize for every combination of fields.
 */
export function entryJson(e: StoredEntry, responseJson?: string): string {
  if (responseJson === undefined && e.response !== undefined) {
    responseJson = canonicalize(e.response);
  }
  let rest = JSON.stringify({
    alert: e.data === undefined && e.alert ? true : undefined,
    error: e.error,
    operation: e.operation,
    path: e.path,
    policies: e.policies,
    remote_address: e.remote_address,
    request_id: e.request_id,
    response_hmac: e.response_hmac,
    result: e.result,
    status: e.status,
    time: e.time,
    token_accessor: e.token_accessor,
    type: e.type,
  });
  if (responseJson !== undefined) {
    // `response` (already canonical: nested objects need canonicalize's key order) sorts just
    // before response_hmac, or result when there is none. Only a key is followed by `":`
    // unescaped, so the first match is that key, not text inside a value.
    const at = rest.indexOf(e.response_hmac !== undefined ? ',"response_hmac":' : ',"result":');
    rest = rest.slice(0, at) + ',"response":' + responseJson + rest.slice(at);
  }
  if (e.data === undefined) return rest;
  return (e.alert ? '{"alert":true,"data":' : '{"data":') + canonicalize(e.data) + "," +
    rest.slice(1);
}

/** What an entry records of a reply (see AuditEntryBuilder.#response). */
interface AuditedResponse {
  tag: string;
  obj?: Record<string, unknown>;
  json?: string;
}

/** Auth block fields that hold no secret: logged as they were sent. */
const AUTH_CLEAR_FIELDS = [
  "policies",
  "token_policies",
  "identity_policies",
  "lease_duration",
  "renewable",
  "entity_id",
  "token_type",
  "orphan",
  "num_uses",
] as const;

export class AuditEntryBuilder {
  #hmac: AuditHmac;
  #accessorTags = new Map<string, string>();
  #responses = new WeakMap<object, AuditedResponse>();

  constructor(key: Uint8Array) {
    checkAuditKey(key);
    this.#hmac = new AuditHmac(key);
  }

  /** Everything that can throw (bad data) throws here, before anything is linked or stored. */
  build(input: AuditInput): { entry: Record<string, unknown>; entryJson: string } {
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
    let responseJson: string | undefined;
    if (input.response !== undefined) {
      const r = this.#response(input.response);
      entry.response_hmac = r.tag;
      if (r.json !== undefined) {
        entry.response = r.obj;
        responseJson = r.json;
      }
    }
    return { entry, entryJson: entryJson(entry as unknown as StoredEntry, responseJson) };
  }

  /** On seal: drop the keyed state so nothing is built under a key the core has forgotten. */
  wipe(): void {
    this.#hmac.wipe();
    this.#accessorTags.clear();
    this.#responses = new WeakMap();
  }

  /**
   * The reply's `response_hmac`, and its `response` record (JSON too) unless it carried nothing.
   * A reply of nothing but a frozen `data` object (reads of an unchanged secret share one; see
   * readShared in the SDK) records its `response_hmac` alone, made once per object: its values
   * are the stored version's, which the write that stored them recorded HMAC'd, and writing them
   * again with every read cost ~12 % of the read rate (a 60 % larger entry to link and store).
   */
  #response(response: NonNullable<AuditInput["response"]>): AuditedResponse {
    const { data } = response;
    const memo = response.auth === null && response.lease === undefined &&
      response.wrapInfo === undefined && typeof data === "object" && data !== null &&
      Object.isFrozen(data);
    if (!memo) return this.#audited(response);
    let hit = this.#responses.get(data);
    if (hit === undefined) {
      hit = { tag: this.#hmac.tag(canonicalize({ auth: null, data })) };
      this.#responses.set(data, hit);
    }
    return hit;
  }

  #audited(response: NonNullable<AuditInput["response"]>): AuditedResponse {
    const { wrapInfo, ...sent } = response;
    const tag = this.#hmac.tag(canonicalize(sent));
    const obj: Record<string, unknown> = {};
    if (response.data != null) obj.data = this.#hmac.redact(response.data);
    const auth = response.auth as Record<string, unknown> | null;
    if (auth) obj.auth = this.#auth(auth);
    if (wrapInfo) {
      obj.wrap_info = {
        token: this.#hmac.tag(wrapInfo.token),
        accessor: this.#accessorTag(wrapInfo.accessor),
        ttl: wrapInfo.ttl,
        creation_time: wrapInfo.creation_time,
        creation_path: wrapInfo.creation_path,
        wrapped_accessor: wrapInfo.wrapped_accessor
          ? this.#accessorTag(wrapInfo.wrapped_accessor)
          : "",
      };
    }
    if (Object.keys(obj).length === 0) return { tag };
    return { tag, obj, json: canonicalize(obj) };
  }

  /**
   * An auth block as Vault's audit logs it: the token and its accessor HMAC'd (so sys/audit-hash
   * of a token finds the login that issued it), metadata values HMAC'd, the rest as sent. Only
   * the fields below are kept: a field added to auth blocks later is not logged until it is
   * listed here.
   */
  #auth(auth: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const k of AUTH_CLEAR_FIELDS) if (auth[k] !== undefined) out[k] = auth[k];
    if (typeof auth.client_token === "string") out.client_token = this.#hmac.tag(auth.client_token);
    if (typeof auth.accessor === "string") out.accessor = this.#accessorTag(auth.accessor);
    if (auth.metadata != null) out.metadata = this.#hmac.redact(auth.metadata);
    return out;
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

/**
 * The chain's head as the writer stores it beside the records, in the same transaction, with a
 * MAC: without it, records deleted from the end of the log would look like a shorter log. The
 * MAC covers "audit-head:<seq>:<hash>", which no record's hash (64 hex digits) can equal, so a
 * record's mac cannot stand in for a head's.
 */
export interface SignedHead extends ChainHead {
  mac: string;
}

export function headMac(hmac: AuditHmac, seq: number, hash: string): string {
  return hmac.hex(`audit-head:${seq}:${hash}`);
}

/** True when `head` carries a MAC made under `key`. */
export function headIsSigned(key: Uint8Array, head: SignedHead): boolean {
  const hmac = new AuditHmac(key);
  try {
    return Number.isSafeInteger(head.seq) && typeof head.hash === "string" &&
      typeof head.mac === "string" &&
      constantTimeEqual(headMac(hmac, head.seq, head.hash), head.mac);
  } finally {
    hmac.wipe();
  }
}

/** Where an entry landed in the chain. */
export interface ChainLink {
  seq: number;
  prevHash: string;
  hash: string;
  mac: string;
}

/**
 * Links built entries into the hash chain: seq, hash = SHA-256(prev ‖ {entry, seq}), mac =
 * HMAC(hash). Single ordered writer: the storage writer thread links each entry as it inserts
 * it, in commit order, and resets to the stored head when a transaction fails, so the chain in
 * memory never runs ahead of the one on disk.
 */
export class ChainLinker {
  #hmac: AuditHmac;
  #seq: number;
  #hash: string;

  constructor(key: Uint8Array, head: ChainHead) {
    checkAuditKey(key);
    const h = checkHead(head);
    this.#hmac = new AuditHmac(key);
    this.#seq = h.seq;
    this.#hash = h.hash;
  }

  link(entryJson: string): ChainLink {
    const seq = this.#seq + 1;
    const prevHash = this.#hash;
    const hash = recordHashFromJson(prevHash, seq, entryJson);
    const mac = this.#hmac.hex(hash);
    this.#seq = seq;
    this.#hash = hash;
    return { seq, prevHash, hash, mac };
  }

  /** Roll the head back (used when the transaction that carried records failed to commit). */
  reset(head: ChainHead): void {
    const h = checkHead(head);
    this.#seq = h.seq;
    this.#hash = h.hash;
  }

  get head(): ChainHead {
    return { seq: this.#seq, hash: this.#hash };
  }

  /** The MAC of the current head, for the head row the writer stores with each batch. */
  headMac(): string {
    return headMac(this.#hmac, this.#seq, this.#hash);
  }

  wipe(): void {
    this.#hmac.wipe();
  }
}

/**
 * Builder and linker in one, for code that builds and persists records itself (tests, offline
 * tools): the caller must persist records in the order append returns them.
 */
export class AuditChain {
  readonly #builder: AuditEntryBuilder;
  readonly #linker: ChainLinker;

  constructor(key: Uint8Array, head: ChainHead) {
    this.#builder = new AuditEntryBuilder(key);
    this.#linker = new ChainLinker(key, head);
  }

  /** Synchronously builds the next record and advances the head. */
  append(input: AuditInput): AuditRecord {
    // Everything that can throw runs before the head moves, so a failed append leaves no hole.
    const { entry, entryJson } = this.#builder.build(input);
    return { ...this.#linker.link(entryJson), entry, entryJson };
  }

  reset(head: ChainHead): void {
    this.#linker.reset(head);
  }

  get head(): ChainHead {
    return this.#linker.head;
  }

  wipe(): void {
    this.#builder.wipe();
    this.#linker.wipe();
  }
}
