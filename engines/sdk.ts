/**
 * The only project module an engine may import. An engine is a path table: each path has a
 * pattern, an optional valibot schema for its input, and one handler per operation. Handlers get
 * plain data and a storage view already scoped (and encrypted) for their mount; they never see
 * HTTP objects.
 */
export * from "../lib/errors.ts";
import { NotFound } from "../lib/errors.ts";
import { deepFreeze } from "../lib/freeze.ts";
export { deepFreeze };
export * as fields from "../lib/fields.ts";
export { v } from "../lib/fields.ts";
export { formatDuration, MAX_DURATION_SECONDS, parseDuration } from "../lib/duration.ts";
export { Mutex } from "../lib/mutex.ts";
import type * as v from "valibot";

export type Operation = "read" | "create" | "update" | "patch" | "delete" | "list";

export type WriteOp =
  | { op: "put"; key: string; value: Uint8Array }
  | { op: "delete"; key: string };

/** Storage scoped to one mount. Values pass through the barrier (encrypted at rest). */
export interface StorageView {
  get(key: string): Promise<Uint8Array | null>;
  put(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /** Immediate children of `prefix`: leaf names, and folder names with a trailing "/". */
  list(prefix: string): Promise<string[]>;
  /** Applies all ops atomically and durably. */
  batch(ops: WriteOp[]): Promise<void>;
  /**
   * The stored JSON value, deep-frozen and shared by every reader while it is unchanged (see
   * {@link readShared}); views without it are served by a fresh parse.
   */
  getShared?(key: string): Promise<unknown>;
  /** getShared() answered from memory, or undefined if that needs storage (see peekShared). */
  peekShared?(key: string): unknown;
}

export interface EngineRequest {
  operation: Operation;
  /** Path relative to the mount, without a leading slash (list paths end in "/"). */
  path: string;
  /** Named parameters captured by the path pattern. */
  params: Record<string, string>;
  /** Body (writes) or query (reads), after the path's schema when it has one. */
  data: Record<string, unknown>;
  remoteAddress: string;
  /** Accessor of the calling token ("" when unauthenticated). */
  tokenAccessor: string;
  requestId: string;
  /**
   * On lists only: whether the caller's policies grant `operation` on `path` (relative to the
   * mount), for a list that would show more than key names. Unset when no token was checked.
   */
  allowed?: (operation: Operation, path: string) => boolean;
}

export interface EngineResponse {
  data?: Record<string, unknown> | null;
  warnings?: string[];
  /** Defaults to 200 with data, 204 without. */
  status?: number;
  /** A non-JSON body outside the envelope: PEM text, or DER bytes (Vault's `pki/ca`, `crl`). */
  raw?: { body: string | Uint8Array<ArrayBuffer>; contentType: string; status?: number };
  /**
   * The data is a dynamic secret (e.g. database credentials): core registers a lease for it,
   * answers with its `lease_id`, `lease_duration` and `renewable`, and later calls the engine's
   * {@link EngineSecrets} to renew or revoke it. `ttl`/`maxTtl` are seconds (0: the mount's
   * default/max lease TTL). `internal` is what the engine needs to renew/revoke (e.g. the
   * username); it is stored through the barrier and never returned to clients.
   */
  secret?: { ttl: number; maxTtl: number; renewable: boolean; internal: Record<string, unknown> };
}

/** A lease as core hands it back to the engine that created it. */
export interface LeaseInfo {
  leaseId: string;
  /** The request path inside the mount that created it ("creds/readonly"). */
  path: string;
  internal: Record<string, unknown>;
  /** Unix ms. */
  issueTime: number;
  /** Unix ms: the current expiry, and the hard limit no renewal may pass. */
  expireTime: number;
  maxExpireTime: number;
}

/**
 * Renew/revoke for the dynamic secrets an engine's responses carry (Vault's framework.Secret).
 * Core calls them with the lease's stored state; the engine must be idempotent on revoke (a
 * revoke may be retried after a crash).
 */
export interface EngineSecrets {
  /** Extend to `expireTime` (Unix ms, already capped by core at the lease's max). */
  renew?(lease: LeaseInfo, expireTime: number): Promise<void>;
  revoke(lease: LeaseInfo): Promise<void>;
}

export interface MountInfo {
  path: string;
  uuid: string;
  type: string;
  options: Record<string, string>;
}

/** A mount's lease TTLs in seconds, its tuned values or else the system's (768h). */
export interface MountTtls {
  defaultTtl: number;
  maxTtl: number;
}

export interface EngineContext {
  storage: StorageView;
  mount: MountInfo;
  /** Milliseconds since the epoch; injectable for tests. */
  now(): number;
  /**
   * The mount's TTLs as they are now: read on every call, so a tune applies without a remount.
   * Absent when core runs an engine in-process, off any mount (the identity PKI).
   */
  mountTtls?(): MountTtls;
}

export type Handler = (req: EngineRequest) => Promise<EngineResponse | void>;

export interface PathSpec {
  /**
   * Segments separated by "/": literals, `:name` (one segment), `:name*` (the rest, may be
   * empty), `:name+` (the rest, at least one segment). Matched in table order.
   */
  pattern: string;
  /** Valibot schemas for input, per operation; "write" covers create and update. */
  input?: Partial<Record<Operation | "write", v.GenericSchema>>;
  operations: Partial<Record<Operation, Handler>>;
  /** Decides create vs update for ACL purposes. Without it a write is an update. */
  exists?: (req: EngineRequest) => Promise<boolean>;
  /** No token needed (true = every operation), e.g. a CA certificate or CRL. */
  unauthenticated?: boolean | Operation[];
  /** Needs `sudo` in addition to the operation's capability (e.g. sign-verbatim). */
  sudo?: boolean | Operation[];
  synopsis?: string;
}

export interface Engine {
  type: string;
  version: string;
  paths: PathSpec[];
  /** Present on engines that hand out leased (dynamic) secrets. */
  secrets?: EngineSecrets;
  /** Called when the mount goes away or core seals (close pools, clear caches). */
  close?(): Promise<void>;
}

export type EngineFactory = (ctx: EngineContext) => Engine;

const enc = new TextEncoder();
const dec = new TextDecoder();

export async function readJSON<T>(s: StorageView, key: string): Promise<T | null> {
  const b = await s.get(key);
  return b ? JSON.parse(dec.decode(b)) as T : null;
}

/**
 * Like readJSON, for read-only use: the value is deep-frozen, and where the view supports it
 * one parsed object is shared by every reader until the stored value changes.
 */
export async function readShared<T>(s: StorageView, key: string): Promise<Readonly<T> | null> {
  if (s.getShared) return await s.getShared(key) as Readonly<T> | null;
  const v = await readJSON<T>(s, key);
  return v === null ? null : deepFreeze(v);
}

/**
 * readShared() without waiting: the shared value when it is already in memory, else undefined
 * (then await readShared). Saves the hot read path a chain of promises.
 */
export function peekShared<T>(s: StorageView, key: string): Readonly<T> | undefined {
  return s.peekShared?.(key) as Readonly<T> | undefined;
}

export function putJSONOp(key: string, value: unknown): WriteOp {
  return { op: "put", key, value: enc.encode(JSON.stringify(value)) };
}

export function writeJSON(s: StorageView, key: string, value: unknown): Promise<void> {
  return s.put(key, enc.encode(JSON.stringify(value)));
}

/** RFC 3339 with nanoseconds, as Vault prints times. */
export function rfc3339(ms: number): string {
  // toISOString always ends in ".sssZ"; a slice is a fraction of a regex replace (every read
  // formats several times).
  const iso = new Date(ms).toISOString();
  return iso.slice(0, -1) + "000000Z";
}

/** A LIST answer. Vault answers an empty list with 404, and clients rely on it. */
export function listResponse(keys: string[]): EngineResponse {
  if (keys.length === 0) throw new NotFound();
  return { data: { keys } };
}
