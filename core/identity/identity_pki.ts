/**
 * The identity PKI: an internal PKI engine instance at barrier prefix `sys/identity-pki/` that
 * issues the client certificates apps and agents prove themselves with, and the core's own mTLS
 * server certificate. Core calls the engine's path handlers in-process; the CA key never leaves
 * the engine (the root is generated `internal`). The identity URI SAN is always set here from
 * the caller's already-authenticated id; the roles ignore every name a CSR asks for.
 */
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
import { HttpError, NotFound } from "../../lib/errors.ts";
import type { StorageView } from "../../engines/sdk.ts";
import type { PeerIdentity } from "../router/types.ts";
import { EngineDispatch } from "./engine_dispatch.ts";
import { identityFromSan, type IdentityKind, identityUri } from "./identity_uri.ts";
import { canonicalSerial, colonSerial } from "./serial.ts";

export const CA_COMMON_NAME = "SecretHub Identity CA";
/** App and agent certificates: 72 h unless asked for less; never more than 30 days. */
export const IDENTITY_TTL = "72h";
export const IDENTITY_MAX_TTL = "720h";

const IDENTITY_ROLE = {
  ttl: IDENTITY_TTL,
  max_ttl: IDENTITY_MAX_TTL,
  key_type: "any",
  // Names come only from core (use_csr_* off); the CN is the identity URN, not a hostname.
  allow_any_name: true,
  enforce_hostnames: false,
  allow_localhost: false,
  allow_wildcard_certificates: false,
  allow_ip_sans: false,
  use_csr_common_name: false,
  use_csr_sans: false,
  require_cn: false,
  server_flag: false,
  client_flag: true,
  organization: ["SecretHub"],
};

const ROLES: Record<string, Record<string, unknown>> = {
  app: { ...IDENTITY_ROLE, allowed_uri_sans: ["urn:secrethub:app:*"], ou: ["app"] },
  agent: { ...IDENTITY_ROLE, allowed_uri_sans: ["urn:secrethub:agent:*"], ou: ["agent"] },
  // Re-issued at every listener start, so not stored (no_store) and not revocable by serial.
  "core-server": {
    ttl: IDENTITY_MAX_TTL,
    max_ttl: IDENTITY_MAX_TTL,
    key_type: "ec",
    key_bits: 256,
    allow_any_name: true,
    enforce_hostnames: false,
    allow_ip_sans: true,
    server_flag: true,
    client_flag: false,
    require_cn: false,
    organization: ["SecretHub"],
    ou: ["core"],
    no_store: true,
  },
};

export interface IssuedIdentityCert {
  certificate: string;
  issuing_ca: string;
  ca_chain: string[];
  /** "aa:bb:…", as Vault prints it. */
  serial_number: string;
  /** notAfter, Unix seconds. */
  expiration: number;
}

export interface IdentityPkiOptions {
  storage: StorageView;
  now: () => number;
  /** Whether the app or agent may use its certificates right now (not suspended or revoked). */
  isActive: (kind: IdentityKind, id: string) => Promise<boolean>;
  /**
   * Told every serial put on the CRL, whichever route did it: a live connection that was
   * verified with it at its handshake must not outlive it. Must not throw.
   */
  onRevoked?: (serial: string) => void;
}

interface Loaded {
  engine: EngineDispatch;
  pem: string;
  ca: X509Certificate;
}

export class IdentityPki {
  readonly #o: IdentityPkiOptions;
  #loaded: Promise<Loaded> | null = null;
  /**
   * Loads run one after another, even across a seal: a load started before a seal can still be
   * generating the CA when the next unseal starts another, and two engine instances must never
   * both decide there is no CA.
   */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(o: IdentityPkiOptions) {
    this.#o = o;
  }

  /** Starts making sure the CA and roles exist (on unseal); a failure is retried on next use. */
  warm(): void {
    this.#ready().catch(() => {});
  }

  /** Forgets the engine instance and its cached CA key (on seal). */
  reset(): void {
    this.#loaded = null;
  }

  #ready(): Promise<Loaded> {
    if (!this.#loaded) {
      const p = this.#chain.then(() => this.#load());
      this.#chain = p.catch(() => {});
      this.#loaded = p;
      p.catch(() => {
        if (this.#loaded === p) this.#loaded = null;
      });
    }
    return this.#loaded;
  }

  async #load(): Promise<Loaded> {
    const engine = new EngineDispatch("pki", this.#o.storage, "sys/identity-pki/", this.#o.now);
    let pem: string;
    try {
      pem = (await engine.call("read", "cert/ca")).data!.certificate as string;
    } catch (e) {
      if (!(e instanceof NotFound)) throw e;
      pem = (await engine.call("update", "root/generate/internal", {
        common_name: CA_COMMON_NAME,
        key_type: "ec",
        key_bits: 384,
        ttl: "87600h",
        organization: ["SecretHub"],
      })).data!.certificate as string;
    }
    // Written on every unseal, so a role change in code reaches existing installations.
    for (const [name, role] of Object.entries(ROLES)) {
      await engine.call("update", `roles/${name}`, role);
    }
    return { engine, pem, ca: new X509Certificate(pem) };
  }

  async caPem(): Promise<string> {
    return (await this.#ready()).pem;
  }

  /** Signs `csrPem` for `kind:id`; only the public key is taken from the CSR. */
  async issue(
    kind: IdentityKind,
    id: string,
    csrPem: string,
    ttl?: number,
  ): Promise<IssuedIdentityCert> {
    const { engine } = await this.#ready();
    const uri = identityUri(kind, id);
    const body: Record<string, unknown> = {
      csr: csrPem,
      common_name: uri,
      uri_sans: [uri],
      exclude_cn_from_sans: true,
    };
    if (ttl) body.ttl = ttl;
    const d = (await engine.call("update", `sign/${kind}`, body)).data!;
    return {
      certificate: d.certificate as string,
      issuing_ca: d.issuing_ca as string,
      ca_chain: d.ca_chain as string[],
      serial_number: d.serial_number as string,
      expiration: d.expiration as number,
    };
  }

  /** Puts the serial on the identity CA's CRL; already revoked is fine. */
  async revoke(serial: string): Promise<void> {
    const { engine } = await this.#ready();
    const canonical = canonicalSerial(serial);
    await engine.call("update", "revoke", { serial_number: colonSerial(canonical) });
    this.#o.onRevoked?.(canonical);
  }

  /** True when revoked, and when the CA never issued (or no longer stores) the serial. */
  async isRevoked(serial: string): Promise<boolean> {
    const { engine } = await this.#ready();
    try {
      const d = (await engine.call("read", `cert/${colonSerial(canonicalSerial(serial))}`)).data!;
      return d.revocation_time !== 0;
    } catch (e) {
      if (e instanceof HttpError && e.status < 500) return true;
      throw e;
    }
  }

  /** A fresh key and server certificate for the core's mTLS listener (the key stays in memory). */
  async serverCertificate(hosts: string[]): Promise<{ cert: string; key: string }> {
    const { engine } = await this.#ready();
    const ips = hosts.filter(isIp);
    const dns = hosts.filter((h) => !isIp(h));
    const d = (await engine.call("update", "issue/core-server", {
      common_name: dns[0] ?? ips[0] ?? "secrethub-core",
      alt_names: dns,
      ip_sans: ips,
      private_key_format: "pkcs8",
    })).data!;
    return { cert: d.certificate as string, key: d.private_key as string };
  }

  /**
   * The identity a client certificate proves, or null: issued by the identity CA (signature
   * checked), inside its validity at `now`, exactly one identity URI SAN, not revoked, and the
   * entity active. Only app/agent roles put identity URIs in certificates, and those are
   * client-only, so a server certificate never passes.
   */
  async verifyPeer(cert: Uint8Array | string): Promise<PeerIdentity | null> {
    const parsed = await this.#issuedHere(cert);
    if (!parsed) return null;
    const { x, who } = parsed;
    const now = this.#o.now();
    if (now < x.validFromDate.getTime() || now > x.validToDate.getTime()) return null;
    const serial = canonicalSerial(x.serialNumber);
    if (await this.isRevoked(serial)) return null;
    if (!await this.#o.isActive(who.kind, who.id)) return null;
    return { kind: who.kind, id: who.id, serial };
  }

  /**
   * For a certificate this CA signed (any validity): whose it is and whether its serial is on
   * the CRL; null for anything else. Unlike isRevoked, a serial the CA no longer stores does not
   * count: callers act on "revoked" by destroying state, so only a recorded revocation may say so.
   */
  async revocationOf(
    cert: string,
  ): Promise<{ kind: IdentityKind; id: string; serial: string; revoked: boolean } | null> {
    const parsed = await this.#issuedHere(cert);
    if (!parsed) return null;
    const serial = canonicalSerial(parsed.x.serialNumber);
    const { engine } = await this.#ready();
    let revoked = false;
    try {
      const d = (await engine.call("read", `cert/${colonSerial(serial)}`)).data!;
      revoked = d.revocation_time !== 0;
    } catch (e) {
      if (!(e instanceof HttpError && e.status < 500)) throw e;
    }
    return { ...parsed.who, serial, revoked };
  }

  /** Parsed, signed by the identity CA, with exactly one identity URI SAN; otherwise null. */
  async #issuedHere(
    cert: Uint8Array | string,
  ): Promise<{ x: X509Certificate; who: { kind: IdentityKind; id: string } } | null> {
    const { ca } = await this.#ready();
    let x: X509Certificate;
    try {
      x = new X509Certificate(typeof cert === "string" ? cert : Buffer.from(cert));
    } catch {
      return null;
    }
    let signed = false;
    try {
      signed = x.checkIssued(ca) && x.verify(ca.publicKey);
    } catch {
      signed = false;
    }
    if (!signed) return null;
    const who = identityFromSan(x.subjectAltName);
    return who ? { x, who } : null;
  }
}

function isIp(h: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || h.includes(":");
}
