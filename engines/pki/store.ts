/**
 * Storage layout of one PKI mount (keys relative to the mount's barrier view, so every value is
 * encrypted at rest):
 *
 *   ca/bundle           CaRecord: the CA certificate, the chain above it, key type, ids
 *   ca/key              the CA private key, PKCS#8 DER; read only to sign, never returned
 *   ca/pending          PendingRecord: an intermediate key waiting for intermediate/set-signed
 *   roles/<name>        RoleRecord
 *   certs/<aa-bb-…>     CertRecord for every certificate issued (unless the role says no_store)
 *   revoked/<aa-bb-…>   RevokedRecord
 *   crl                 CrlRecord: the last signed CRL, rebuilt on every revocation
 *
 * The key sits apart from the bundle so serving the CA certificate (unauthenticated, frequent)
 * never decrypts it.
 */
import { putJSONOp, readJSON, type StorageView, writeJSON, type WriteOp } from "../sdk.ts";
import type { Bytes } from "./der.ts";
import type { KeyType } from "./keys.ts";
import { ROLE_DEFAULTS, type RoleRecord } from "./role.ts";

export interface CaRecord {
  /** PEM of the mount's CA certificate. */
  certificate: string;
  /** PEMs of the certificates above it, nearest issuer first; empty for a root. */
  chain: string[];
  key_type: KeyType;
  key_bits: number;
  issuer_id: string;
  key_id: string;
}

export interface PendingRecord {
  /** PKCS#8 DER, base64. */
  key: string;
  /** The matching SPKI, base64: set-signed finds its certificate in a bundle by it. */
  spki: string;
  key_type: KeyType;
  key_bits: number;
  key_id: string;
  csr: string;
}

export interface CertRecord {
  certificate: string;
  /** notAfter, Unix seconds. */
  expiration: number;
}

export interface RevokedRecord {
  /** Unix seconds, as Vault reports it. */
  revocation_time: number;
  /** Milliseconds, for the CRL entry and the RFC 3339 form. */
  revocation_time_ms: number;
  /** notAfter of the revoked certificate, Unix seconds (tidy drops the entry after it). */
  expiration: number;
  /** The CA that issued it: only that CA's CRL lists it. */
  issuer_id: string;
}

export interface CrlRecord {
  pem: string;
  number: number;
  this_update: number;
  next_update: number;
}

const CA = "ca/bundle";
const CA_KEY = "ca/key";
const PENDING = "ca/pending";
const CRL = "crl";

export class PkiStore {
  readonly #s: StorageView;

  constructor(storage: StorageView) {
    this.#s = storage;
  }

  ca(): Promise<CaRecord | null> {
    return readJSON<CaRecord>(this.#s, CA);
  }

  async caKey(): Promise<Bytes | null> {
    const b = await this.#s.get(CA_KEY);
    return b ? new Uint8Array(b) : null;
  }

  pending(): Promise<PendingRecord | null> {
    return readJSON<PendingRecord>(this.#s, PENDING);
  }

  /** Installs a CA with its key and first CRL, and drops any pending intermediate key. */
  installCa(ca: CaRecord, pkcs8: Uint8Array, crl: CrlRecord, extra: WriteOp[] = []): Promise<void> {
    return this.#s.batch([
      putJSONOp(CA, ca),
      { op: "put", key: CA_KEY, value: pkcs8 },
      { op: "delete", key: PENDING },
      putJSONOp(CRL, crl),
      ...extra,
    ]);
  }

  putPending(p: PendingRecord): Promise<void> {
    return this.#s.batch([putJSONOp(PENDING, p)]);
  }

  /** Vault's DELETE root: keys and CA go; issued certificates, revocations and roles stay. */
  deleteCa(): Promise<void> {
    return this.#s.batch([CA, CA_KEY, PENDING, CRL].map((key) => ({ op: "delete", key })));
  }

  async role(name: string): Promise<RoleRecord | null> {
    const r = await readJSON<RoleRecord>(this.#s, `roles/${name}`);
    // A role stored before a field existed takes that field's default.
    return r && { ...ROLE_DEFAULTS, ...r };
  }

  putRole(name: string, role: RoleRecord): Promise<void> {
    return this.#s.batch([putJSONOp(`roles/${name}`, role)]);
  }

  deleteRole(name: string): Promise<void> {
    return this.#s.batch([{ op: "delete", key: `roles/${name}` }]);
  }

  async roles(): Promise<string[]> {
    return (await this.#s.list("roles/")).filter((k) => !k.endsWith("/")).sort();
  }

  cert(serial: string): Promise<CertRecord | null> {
    return readJSON<CertRecord>(this.#s, `certs/${serial}`);
  }

  static putCert(serial: string, rec: CertRecord): WriteOp {
    return putJSONOp(`certs/${serial}`, rec);
  }

  putCert(serial: string, rec: CertRecord): Promise<void> {
    return writeJSON(this.#s, `certs/${serial}`, rec);
  }

  async certs(): Promise<string[]> {
    return (await this.#s.list("certs/")).filter((k) => !k.endsWith("/")).sort();
  }

  revoked(serial: string): Promise<RevokedRecord | null> {
    return readJSON<RevokedRecord>(this.#s, `revoked/${serial}`);
  }

  async revokedSerials(): Promise<string[]> {
    return (await this.#s.list("revoked/")).filter((k) => !k.endsWith("/")).sort();
  }

  static putRevoked(serial: string, rec: RevokedRecord): WriteOp {
    return putJSONOp(`revoked/${serial}`, rec);
  }

  static deleteCert(serial: string): WriteOp {
    return { op: "delete", key: `certs/${serial}` };
  }

  static deleteRevoked(serial: string): WriteOp {
    return { op: "delete", key: `revoked/${serial}` };
  }

  crl(): Promise<CrlRecord | null> {
    return readJSON<CrlRecord>(this.#s, CRL);
  }

  static putCrl(crl: CrlRecord): WriteOp {
    return putJSONOp(CRL, crl);
  }

  commit(ops: WriteOp[]): Promise<void> {
    return ops.length ? this.#s.batch(ops) : Promise.resolve();
  }
}
