/**
 * What root generation, intermediate generation and sign-intermediate share: the request fields
 * that shape a CA's subject, the CA extensions, and installing a CA (with its first CRL) as the
 * mount's one CA.
 */
import { BadRequest, type EngineResponse, fields, type PathSpec, v } from "../sdk.ts";
import type { PkiBackend } from "./backend.ts";
import { loadCa, type LoadedCa } from "./ca.ts";
import { buildCrl } from "./crl.ts";
import type { Bytes } from "./der.ts";
import {
  authorityKeyId,
  basicConstraints,
  KEY_USAGE_BITS,
  keyUsage,
  subjectKeyId,
} from "./extensions.ts";
import { sanEntries } from "./leaf.ts";
import { formatSerial } from "./serial.ts";
import { certParts } from "./certificate.ts";
import { certsFromPem } from "./pem.ts";
import { type CaRecord, PkiStore } from "./store.ts";
import { certFormat, privateKeyFormat } from "./response.ts";
import { subjectNameEntries } from "./role.ts";

const opt = v.optional;
const text = v.pipe(v.string(), v.maxLength(1024, "is too long"));

/** Subject and SAN fields every CA-producing path accepts. */
export const subjectEntries = {
  common_name: opt(text),
  ...sanEntries,
  exclude_cn_from_sans: opt(fields.bool),
  ...subjectNameEntries,
  serial_number: opt(text),
  ttl: opt(fields.duration),
  not_after: opt(text),
  max_path_length: opt(fields.int),
  format: certFormat,
  private_key_format: privateKeyFormat,
};

/** Key fields for paths that generate a CA key. */
export const keyEntries = {
  key_type: opt(v.picklist(["ec", "rsa", "ed25519"], 'must be "ec", "rsa" or "ed25519"')),
  key_bits: opt(fields.nonNegInt),
  // Multi-issuer names are accepted for client compatibility; one CA per mount needs none.
  issuer_name: opt(text),
  key_name: opt(text),
};

export const generateType = v.picklist(
  ["internal", "exported"],
  'type must be "internal" or "exported"',
);

const CA_USAGE = (1 << KEY_USAGE_BITS.certsign!) | (1 << KEY_USAGE_BITS.crlsign!);

/** BasicConstraints (pathLen when ≥ 0), CertSign + CRLSign, SKI and AKI. */
/** Body of `root/generate/:type` and `intermediate/generate/:type`. */
export const caGenerateInput = v.looseObject({ ...subjectEntries, ...keyEntries });
/** Body of the SecretHub aliases (`ca/root/generate`…), which carry the type in the body. */
export const caGenerateAliasInput = v.looseObject({
  ...subjectEntries,
  ...keyEntries,
  type: v.optional(generateType),
});
export type CaGenerateInput = v.InferOutput<typeof caGenerateInput>;

type GenerateFn = (type: string, body: CaGenerateInput) => Promise<EngineResponse>;

/** `<kind>/generate/:type`: the Vault route, type in the path. */
export function generatePath(pattern: string, synopsis: string, generate: GenerateFn): PathSpec {
  return {
    pattern,
    input: { write: caGenerateInput },
    synopsis,
    operations: { update: (req) => generate(req.params.type!, req.data as CaGenerateInput) },
  };
}

/** SecretHub's `ca/<kind>/generate`: the type travels in the body (internal by default). */
export function generateAliasPath(
  pattern: string,
  synopsis: string,
  generate: GenerateFn,
): PathSpec {
  return {
    pattern,
    input: { write: caGenerateAliasInput },
    synopsis,
    operations: {
      update: (req) => {
        const body = req.data as v.InferOutput<typeof caGenerateAliasInput>;
        return generate(body.type ?? "internal", body);
      },
    },
  };
}

/** The `:type` of a generate path, or a 400 naming the accepted ones. */
export function checkGenerateType(type: string): void {
  if (!v.safeParse(generateType, type).success) {
    throw new BadRequest(`unsupported type ${fields.quoted(type)}: use internal or exported`);
  }
}

export function caExtensions(ski: Bytes, issuerKeyId: Bytes, maxPathLength: number): Bytes[] {
  return [
    basicConstraints(true, maxPathLength >= 0 ? maxPathLength : undefined),
    keyUsage(CA_USAGE)!,
    subjectKeyId(ski),
    authorityKeyId(issuerKeyId),
  ];
}

export const ALREADY_HAVE_CA =
  "this mount already has a CA; one CA per mount (DELETE root to remove it first)";

/**
 * Makes `record` the mount's CA: stores it with its key, an empty CRL and the CA's own entry under
 * certs/, and swaps the cache. The caller holds the mount lock.
 */
export async function installCa(
  b: PkiBackend,
  record: CaRecord,
  pkcs8: Bytes,
): Promise<LoadedCa> {
  const ca = await loadCa(record, pkcs8);
  const crl = await buildCrl(ca, [], 1, b.now());
  const caDer = certsFromPem(record.certificate)[0]!;
  const serial = formatSerial(certParts(caDer).serial, "-");
  await b.store.installCa(record, pkcs8, crl, [
    PkiStore.putCert(serial, {
      certificate: record.certificate,
      expiration: Math.floor(ca.notAfter / 1000),
    }),
  ]);
  b.ca.set(ca);
  return ca;
}
