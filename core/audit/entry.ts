import { HmacSha256, sha256Hex } from "../../lib/sha256.ts";

/** What the HTTP layer hands in for one audit entry. */
export interface AuditInput {
  /** "exchange": a read's request and response in one entry, written before the reply. */
  type: "request" | "response" | "exchange";
  /** RFC 3339. */
  time: string;
  requestId: string;
  /** read/create/update/patch/delete/list/… */
  operation: string;
  path: string;
  remoteAddress: string;
  /** Raw accessor; it is HMAC'd before it is stored. */
  tokenAccessor: string;
  policies: string[];
  result: "allowed" | "denied" | "error" | "ok";
  status?: number;
  /** Stored as is: error messages never carry secrets. */
  error?: string;
  /** Every string and number leaf is HMAC'd; booleans and null are kept. */
  data?: Record<string, unknown>;
  /**
   * What the reply carried: one HMAC over its canonical JSON (`response_hmac`), which proves what
   * was returned, and `response` as Vault's audit logs it: the data with every string and number
   * HMAC'd, the auth block with its client token and accessor HMAC'd, and the wrap_info of a
   * wrapped reply, so sys/audit-hash of a value or a token finds the reply that carried it. A
   * reply of a shared (frozen) data object alone (a KV read of an unchanged secret) records the
   * HMAC alone (see AuditEntryBuilder.#response).
   */
  response?: { data: unknown; auth: unknown; lease?: unknown; wrapInfo?: AuditWrapInfo };
  /** Break-glass use: stored as `alert: true` so it stands out in the log. */
  alert?: boolean;
}

/** A wrapped reply's wrap_info, as the client got it (its token and accessors are HMAC'd). */
export interface AuditWrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
  wrapped_accessor?: string;
}

/** One persisted row of the audit chain. */
export interface AuditRecord {
  /** 1, 2, 3, … without gaps. */
  seq: number;
  /** Hex; {@link GENESIS_HASH} for seq 1. */
  prevHash: string;
  /** Hex SHA-256 over prevHash ‖ canonicalize({ seq, entry }). */
  hash: string;
  /** Hex HMAC-SHA256(audit key, hash). */
  mac: string;
  /** The HMAC'd entry as stored. */
  entry: Record<string, unknown>;
  /** canonicalize(entry), when the chain built it: the writer stores it as is. */
  entryJson?: string;
}

export const GENESIS_HASH = "0".repeat(64);
export const HMAC_PREFIX = "hmac-sha256:";

/** Nesting deeper than this in request/response data is refused rather than overflowing the stack. */
export const MAX_DATA_DEPTH = 128;

/**
 * What redaction throws past {@link MAX_DATA_DEPTH}: a RangeError as before, of its own class so
 * the HTTP layer can tell the client its data was refused (400) instead of an internal error.
 */
export class AuditDataTooDeep extends RangeError {
  constructor() {
    super("audit data nested too deeply");
  }
}

/**
 * Deterministic JSON: object keys sorted (UTF-16 code-unit order) at every depth, no whitespace.
 *
 * Value rules mirror JSON.stringify (undefined/functions dropped from objects and null in arrays,
 * non-finite numbers become null, toJSON honoured) so that a record which went through
 * JSON.stringify/JSON.parse on its way to storage canonicalises to the same bytes when verified.
 */
export function canonicalize(value: unknown): string {
  const out = canon(value);
  if (out === undefined) throw new TypeError("canonicalize: value is not representable in JSON");
  return out;
}

// Most strings need no escaping; skipping JSON.stringify for them is a measurable share of an
// append. Lone surrogates go through JSON.stringify so they are escaped the same way.
// deno-lint-ignore no-control-regex -- control characters are exactly what must be escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

function canon(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
    case "bigint":
      throw new TypeError("canonicalize: bigint is not representable in JSON");
  }
  if (value === null) return "null";
  const obj = value as Record<string, unknown> & { toJSON?: unknown };
  if (typeof obj.toJSON === "function") return canon((obj.toJSON as () => unknown)());
  if (Array.isArray(value)) {
    let s = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) s += ",";
      s += canon(value[i]) ?? "null";
    }
    return s + "]";
  }
  const keys = Object.keys(obj).sort();
  let s = "{";
  let first = true;
  for (const k of keys) {
    const v = canon(obj[k]);
    if (v === undefined) continue;
    if (!first) s += ",";
    first = false;
    s += quote(k) + ":" + v;
  }
  return s + "}";
}

/** HMAC-SHA256 under the audit key (key schedule done once; see lib/sha256.ts). */
export class AuditHmac {
  #mac: HmacSha256 | null;

  constructor(key: Uint8Array) {
    this.#mac = new HmacSha256(key);
  }

  /** Hex HMAC of a string (UTF-8) or bytes. */
  hex(data: string | Uint8Array): string {
    if (this.#mac === null) throw new Error("audit key has been wiped");
    return this.#mac.hex(data);
  }

  /** The form stored in audit entries: "hmac-sha256:<hex>". */
  tag(s: string): string {
    return HMAC_PREFIX + this.hex(s);
  }

  /**
   * Deep copy of `data` with every string leaf replaced by its tag; object keys stay readable.
   * Empty strings carry no secret and are kept as they are.
   */
  redact(data: unknown): unknown {
    return this.#redact(data, 0);
  }

  /** Drops the keyed states; later calls throw instead of silently using a stale key. */
  wipe(): void {
    this.#mac?.wipe();
    this.#mac = null;
  }

  #redact(v: unknown, depth: number): unknown {
    switch (typeof v) {
      case "string":
        return v === "" ? v : this.tag(v);
      case "number":
        // A number can be the secret ({"pin": 4711}). Vault HMACs it too (its JSON decoder keeps
        // numbers as json.Number strings), so sys/audit-hash of "4711" matches the stored tag.
        return this.tag(String(v));
      case "boolean":
      case "undefined":
        return v;
      case "bigint":
        // Not JSON, but it is caller data all the same: never store it in the clear.
        return this.tag(v.toString());
      case "function":
      case "symbol":
        return undefined;
    }
    if (v === null) return null;
    if (depth >= MAX_DATA_DEPTH) throw new AuditDataTooDeep();
    const obj = v as Record<string, unknown> & { toJSON?: unknown };
    if (typeof obj.toJSON === "function") {
      return this.#redact((obj.toJSON as () => unknown)(), depth + 1);
    }
    if (Array.isArray(v)) {
      const out = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i++) out[i] = this.#redact(v[i], depth + 1);
      return out;
    }
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(obj)) out[k] = this.#redact(obj[k], depth + 1);
    return out;
  }
}

/** "hmac-sha256:<hex>" of `s` under `key` (what sys/audit-hash returns). */
export function hmacString(key: Uint8Array, s: string): string {
  return new AuditHmac(key).tag(s);
}

/** Deep-HMAC every string and number leaf of `data`; object keys, booleans and null are kept. */
export function redact(key: Uint8Array, data: unknown): unknown {
  return new AuditHmac(key).redact(data);
}

/**
 * hash = SHA-256(prevHash ‖ canonicalize({ seq, entry })), built from the entry's own canonical
 * JSON (which the writer stores as the row, so it is serialised once per append).
 */
export function recordHashFromJson(prevHash: string, seq: number, entryJson: string): string {
  // Keys sorted: "entry" < "seq", exactly what canonicalize({ seq, entry }) produces.
  return sha256Hex(prevHash, `{"entry":${entryJson},"seq":${seq}}`);
}

/** hash = SHA-256(prevHash ‖ canonicalize({ seq, entry })). */
export function recordHash(prevHash: string, seq: number, entry: Record<string, unknown>): string {
  // seq is nested beside entry rather than merged into it, so an entry field can never shadow it;
  // prevHash has a fixed length, so plain concatenation is unambiguous.
  return sha256Hex(prevHash, canonicalize({ seq, entry }));
}
