/**
 * The mount's CA as issuance needs it: the imported (non-extractable) signing key, the raw subject
 * and key id leaves point at, and the PEM chain responses carry. Importing a key and parsing a
 * certificate cost more than signing a leaf, so this is built once and kept until the CA changes.
 */
import { BadRequest } from "../sdk.ts";
import { certParts, type Issuer, keyIdentifier } from "./certificate.ts";
import type { Bytes } from "./der.ts";
import { importSigningKey, type KeySpec, signatureScheme, specFromSpki } from "./keys.ts";
import { certsFromPem } from "./pem.ts";
import { formatSerial } from "./serial.ts";
import type { CaRecord, PkiStore } from "./store.ts";
import * as x509 from "./x509.ts";

export interface LoadedCa {
  record: CaRecord;
  cert: x509.X509Certificate;
  spec: KeySpec;
  issuer: Issuer;
  /** Storage form ("aa-bb-…") of the CA's own serial and of every certificate above it. */
  serials: Set<string>;
  serial: string;
  notAfter: number;
  /** The CA's BasicConstraints pathLen; undefined when unlimited. */
  pathLength: number | undefined;
  /** [the CA, its issuer, …], PEM: Vault's `ca_chain` for whatever this CA signs. */
  chain: string[];
}

export async function loadCa(record: CaRecord, pkcs8: Bytes): Promise<LoadedCa> {
  const [der] = certsFromPem(record.certificate);
  if (!der) throw new Error("Stored CA record holds no certificate");
  const parts = certParts(der);
  const spec = specFromSpki(parts.spki);
  if (spec.type !== record.key_type || spec.bits !== record.key_bits) {
    throw new Error("Stored CA certificate does not match its key type");
  }
  const cert = new x509.X509Certificate(der);
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const serials = new Set([formatSerial(parts.serial, "-")]);
  for (const pem of record.chain) {
    const [d] = certsFromPem(pem);
    if (d) serials.add(formatSerial(certParts(d).serial, "-"));
  }
  return {
    record,
    cert,
    spec,
    issuer: {
      name: parts.subject,
      keyId: ski ? Uint8Array.fromHex(ski.keyId) : keyIdentifier(parts.spki),
      key: await importSigningKey(spec, pkcs8),
      scheme: signatureScheme(spec),
    },
    serials,
    serial: formatSerial(parts.serial, ":"),
    notAfter: cert.notAfter.getTime(),
    pathLength: bc?.pathLength,
    chain: [record.certificate, ...record.chain],
  };
}

export const NO_CA =
  "no CA is configured on this mount: generate a root (root/generate/internal) or import a " +
  "signed intermediate (intermediate/set-signed) first";

export class CaCache {
  readonly #store: PkiStore;
  #current: Promise<LoadedCa | null> | null = null;

  constructor(store: PkiStore) {
    this.#store = store;
  }

  get(): Promise<LoadedCa | null> {
    if (!this.#current) {
      const p = this.#load();
      this.#current = p;
      // A failed load (e.g. a storage error) must not stick; the next call retries.
      p.catch(() => {
        if (this.#current === p) this.#current = null;
      });
    }
    return this.#current;
  }

  async require(): Promise<LoadedCa> {
    const ca = await this.get();
    if (!ca) throw new BadRequest(NO_CA);
    return ca;
  }

  set(ca: LoadedCa | null): void {
    this.#current = Promise.resolve(ca);
  }

  async #load(): Promise<LoadedCa | null> {
    const record = await this.#store.ca();
    if (!record) return null;
    const key = await this.#store.caKey();
    if (!key) throw new Error("CA record without its key");
    return loadCa(record, key);
  }
}
