/**
 * Leaf issuance shared by issue/, sign/ and sign-verbatim: validity window, names from the request
 * and the CSR, key usages, and the signature. This is the hot path; nothing here touches
 * @peculiar/x509 or imports a key.
 */
import { BadRequest, fields, type MountTtls, v } from "../sdk.ts";
import type { PkiBackend } from "./backend.ts";
import type { LoadedCa } from "./ca.ts";
import { keyIdentifier, signCertificate } from "./certificate.ts";
import type { ParsedCsr } from "./csr.ts";
import type { Bytes } from "./der.ts";
import {
  authorityKeyId,
  basicConstraints,
  extKeyUsageOid,
  KEY_USAGE_BITS,
  keyUsageBits,
  subjectAltName,
  subjectKeyId,
} from "./extensions.ts";
import { formatIp, parseIp } from "./ip.ts";
import type { KeySpec } from "./keys.ts";
import type { RequestedNames } from "./name_policy.ts";
import { toPem } from "./pem.ts";
import type { RoleRecord } from "./role.ts";
import { formatSerial, randomSerial } from "./serial.ts";

/**
 * What to do when a certificate would outlive its CA (Vault's leaf_not_after_behavior): refuse
 * ("err"), end it with the CA ("truncate"), or issue it as asked ("permit").
 */
export type NotAfterBehavior = "err" | "truncate" | "permit";
export const NOT_AFTER_BEHAVIORS: readonly NotAfterBehavior[] = ["err", "truncate", "permit"];

export interface Lifetime {
  ttl: number;
  max_ttl: number;
  not_before_duration: number;
  /** Absent on roles stored before the field existed: those get the default, "err". */
  leaf_not_after_behavior?: NotAfterBehavior;
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
  warnings: string[];
}

/** Parses Vault's `not_after` ("2030-01-01T00:00:00Z"); 400 when unreadable or in the past. */
export function parseNotAfter(s: string, now: number): number {
  const t = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(s) || Number.isNaN(t)) {
    throw new BadRequest(
      `invalid not_after ${fields.quoted(s)}: use the form 2030-01-01T00:00:00Z`,
    );
  }
  if (t <= now) throw new BadRequest("not_after is in the past");
  return t;
}

/**
 * Vault's getCertificateNotAfter TTL: the request's, else the role's, else the mount's default
 * lease TTL; capped (with a warning) by the role's max_ttl, else the mount's max lease TTL.
 */
export function chooseTtl(
  reqTtl: number | undefined,
  life: Pick<Lifetime, "ttl" | "max_ttl">,
  mount: MountTtls,
): { ttl: number; maxTtl: number; warnings: string[] } {
  const maxTtl = life.max_ttl || mount.maxTtl;
  let ttl = reqTtl || life.ttl || mount.defaultTtl;
  const warnings: string[] = [];
  if (ttl > maxTtl) {
    warnings.push(
      `TTL of ${ttl}s is longer than the permitted max_ttl of ${maxTtl}s; max_ttl is used`,
    );
    ttl = maxTtl;
  }
  return { ttl, maxTtl, warnings };
}

/** Go's RFC3339Nano, as Vault prints times in its errors: no trailing zeros in the fraction. */
function goTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, "Z");
}

/**
 * notBefore = now − not_before_duration; notAfter = now + the TTL chooseTtl picks, or not_after
 * (capped by the max). Past the CA's own notAfter the lifetime's leaf_not_after_behavior decides:
 * by default ("err") a 400, as Vault, since a certificate outliving its issuer stops verifying
 * before its holder expects.
 */
export function validity(
  now: number,
  req: { ttl?: number; not_after?: string },
  life: Lifetime,
  mount: MountTtls,
  caNotAfter: number,
): Validity {
  if (caNotAfter <= now) throw new BadRequest("the CA certificate has expired");
  if (req.ttl && req.not_after) {
    throw new BadRequest(
      "Either ttl or not_after should be provided. Both should not be provided in the same request.",
    );
  }
  const chosen = chooseTtl(req.ttl, life, mount);
  const warnings = chosen.warnings;
  let end: number;
  if (req.not_after) {
    // The request's ttl is not used, so neither is chooseTtl's warning about it.
    warnings.length = 0;
    end = parseNotAfter(req.not_after, now);
    if (end > now + chosen.maxTtl * 1000) {
      warnings.push(
        `not_after is later than the role's max_ttl of ${chosen.maxTtl}s; max_ttl is used`,
      );
      end = now + chosen.maxTtl * 1000;
    }
  } else {
    end = now + chosen.ttl * 1000;
  }
  if (end > caNotAfter) {
    const behavior = life.leaf_not_after_behavior ?? "err";
    if (behavior === "truncate") {
      warnings.push("the requested lifetime ends after the CA's own expiry; truncated to the CA's");
      end = caNotAfter;
    } else if (behavior === "err") {
      throw new BadRequest(
        `cannot satisfy request, as TTL would result in notAfter of ${
          goTime(end)
        } that is beyond the expiration of the CA certificate at ${goTime(caNotAfter)}`,
      );
    }
  }
  return {
    notBefore: new Date(now - life.not_before_duration * 1000),
    notAfter: new Date(end),
    warnings,
  };
}

/** A list of names whose every entry is at most `max` characters. */
function nameList(max: number) {
  return v.pipe(
    fields.stringList,
    v.check((l) => l.every((s) => s.length <= max), `entries are limited to ${max} characters`),
  );
}

/**
 * The SAN fields of a request, each entry bounded by what a valid name can be, so a name of
 * megabytes is refused up front and never echoed whole in an error. alt_names: a DNS name is at
 * most 253 characters (RFC 1035), 256 with a leading "*." and a final dot; an email address at
 * most 254 (RFC 5321). ip_sans: the longest IPv6 text is 45 characters. uri_sans: 2048, the
 * SPIFFE ID limit, far above other URIs in certificates.
 */
export const sanEntries = {
  alt_names: v.optional(nameList(256)),
  ip_sans: v.optional(nameList(64)),
  uri_sans: v.optional(nameList(2048)),
};

export interface NameInput {
  common_name?: string;
  alt_names?: string[];
  ip_sans?: string[];
  uri_sans?: string[];
  exclude_cn_from_sans?: boolean;
}

const HOSTLIKE =
  /^(\*\.)?[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*\.?$/;

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

/**
 * Every name the certificate will carry: the request's, plus the CSR's when the role uses them
 * (sign/). As in Vault, the CN is repeated as a DNS (or email) SAN unless exclude_cn_from_sans.
 */
export function collectNames(
  body: NameInput,
  role: Pick<RoleRecord, "use_csr_common_name" | "use_csr_sans" | "require_cn">,
  csr: ParsedCsr | null,
): RequestedNames {
  const commonName = (body.common_name ?? "").trim() ||
    (csr && role.use_csr_common_name ? csr.commonName : "");
  if (!commonName && role.require_cn) {
    throw new BadRequest(
      'the common_name field is required, or must be provided in a CSR with "use_csr_common_name" ' +
        'set to true, unless "require_cn" is set to false',
    );
  }
  const dns: string[] = [];
  const email: string[] = [];
  for (const n of body.alt_names ?? []) (n.includes("@") ? email : dns).push(n);
  const ip = [...(body.ip_sans ?? [])];
  const uri = [...(body.uri_sans ?? [])];
  if (csr && role.use_csr_sans) {
    dns.push(...csr.dns);
    email.push(...csr.email);
    ip.push(...csr.ip);
    uri.push(...csr.uri);
  }
  if (commonName && !body.exclude_cn_from_sans) {
    if (commonName.includes("@")) email.unshift(commonName);
    else if (HOSTLIKE.test(commonName)) dns.unshift(commonName);
  }
  const ips: string[] = [];
  for (const s of ip) {
    const b = parseIp(s);
    if (!b) throw new BadRequest(`the value ${fields.quoted(s, 64)} is not a valid IP address`);
    ips.push(formatIp(b));
  }
  return { commonName, dns: unique(dns), email: unique(email), ip: unique(ips), uri: unique(uri) };
}

export function sanExtension(n: RequestedNames, subjectEmpty: boolean): Bytes | null {
  return subjectAltName(
    { dns: n.dns, email: n.email, uri: n.uri, ip: n.ip.map((s) => parseIp(s)!) },
    subjectEmpty,
  );
}

const KE = 1 << KEY_USAGE_BITS.keyencipherment!;
const KA = 1 << KEY_USAGE_BITS.keyagreement!;

/**
 * Key usages as named, minus the ones the key cannot do: only RSA encrypts (KeyEncipherment),
 * and Ed25519 keys only sign (no KeyAgreement).
 */
export function leafKeyUsage(names: string[], spec: KeySpec): number {
  let bits = keyUsageBits(names);
  if (spec.type !== "rsa") bits &= ~KE;
  if (spec.type === "ed25519") bits &= ~KA;
  return bits;
}

export function roleExtKeyUsages(role: RoleRecord): string[] {
  const oids: string[] = [];
  if (role.server_flag) oids.push(extKeyUsageOid("ServerAuth"));
  if (role.client_flag) oids.push(extKeyUsageOid("ClientAuth"));
  if (role.code_signing_flag) oids.push(extKeyUsageOid("CodeSigning"));
  if (role.email_protection_flag) oids.push(extKeyUsageOid("EmailProtection"));
  oids.push(...role.ext_key_usage.map(extKeyUsageOid), ...role.ext_key_usage_oids);
  return unique(oids);
}

export interface LeafTemplate {
  subject: Bytes;
  spki: Bytes;
  validity: Validity;
  /** Usage and name extensions; BasicConstraints, SKI and AKI are added here. */
  extensions: (Bytes | null)[];
}

export interface IssuedCert {
  der: Bytes;
  pem: string;
  /** "aa:bb:…" */
  serial: string;
  /** notAfter, Unix seconds. */
  expiration: number;
  warnings: string[];
}

export async function issueLeaf(
  b: PkiBackend,
  ca: LoadedCa,
  t: LeafTemplate,
  store: boolean,
): Promise<IssuedCert> {
  const serial = randomSerial();
  const der = await signCertificate({
    serial,
    subject: t.subject,
    notBefore: t.validity.notBefore,
    notAfter: t.validity.notAfter,
    spki: t.spki,
    extensions: [
      basicConstraints(false),
      ...t.extensions,
      subjectKeyId(keyIdentifier(t.spki)),
      authorityKeyId(ca.issuer.keyId),
    ],
  }, ca.issuer);
  const pem = toPem("CERTIFICATE", der);
  const expiration = Math.floor(t.validity.notAfter.getTime() / 1000);
  if (store) await b.store.putCert(formatSerial(serial, "-"), { certificate: pem, expiration });
  return { der, pem, serial: formatSerial(serial, ":"), expiration, warnings: t.validity.warnings };
}
