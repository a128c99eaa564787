/** Path tables as the core sees them: an engine's PathSpec plus what only built-ins may set. */
import type * as v from "valibot";
import type { EngineRequest, EngineResponse, Operation } from "../../engines/sdk.ts";
import type { TokenEntry } from "../token/token_store.ts";

export interface CoreRequest extends EngineRequest {
  /** The caller's token entry (null on unauthenticated paths). */
  token: TokenEntry | null;
  /** The caller's clear token, for built-ins that must act on it (revoke-self). */
  clientToken: string;
  headers: Headers;
  /** The full logical path ("sys/mounts/foo"), as the ACL saw it. */
  fullPath: string;
  /** Identity proven by a client certificate (mTLS listener only; never set from a header). */
  peer?: PeerIdentity;
}

/** Who a verified client certificate belongs to (its `urn:secrethub:<kind>:<id>` URI SAN). */
export interface PeerIdentity {
  kind: "app" | "agent";
  id: string;
  /** Lowercase hex, no separators or leading zeros. */
  serial: string;
}

/** What built-in (core) handlers may return beyond an engine's response. */
/** The envelope's top-level lease fields. */
export interface LeaseEnvelope {
  lease_id: string;
  /** Seconds. */
  lease_duration: number;
  renewable: boolean;
}

export interface CoreResponse extends EngineResponse {
  /** Vault's `auth` block (logins, token create/renew). */
  auth?: Record<string, unknown>;
  /**
   * Set by built-ins that answer about a lease (sys/leases/renew, unwrap). Engines never set it:
   * their leases come from `secret`, registered by core.
   */
  lease?: LeaseEnvelope;
  /** A non-JSON body (PEM, DER, Prometheus text) or a JSON body outside the envelope (sys/init). */
  raw?: { body: string | Uint8Array<ArrayBuffer>; contentType: string; status?: number };
}

export type CoreHandler = (req: CoreRequest) => Promise<CoreResponse | void>;

export interface CorePathSpec {
  pattern: string;
  input?: Partial<Record<Operation | "write", v.GenericSchema>>;
  operations: Partial<Record<Operation, CoreHandler>>;
  exists?: (req: EngineRequest) => Promise<boolean>;
  /** No token needed (true = every operation). */
  unauthenticated?: boolean | Operation[];
  /** Needs `sudo` in addition to the operation's capability (root-protected path). */
  sudo?: boolean | Operation[];
  /** Reachable while sealed (seal/health routes only). */
  whileSealed?: boolean;
  /** Keys of `data` that Vault repeats at the top level of the body (sys routes). */
  injectTopLevel?: boolean;
}

export interface CompiledPath {
  spec: CorePathSpec;
  re: RegExp;
  names: string[];
}
