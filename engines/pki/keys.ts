/**
 * Key pairs on WebCrypto: which types and sizes are allowed, how each signs a certificate, how a
 * public key is recognised from its SPKI, and how a private key is printed the way Vault prints
 * it (SEC1 / PKCS#1 by default, PKCS#8 on request; Ed25519 only has PKCS#8).
 */
import { BadRequest } from "../sdk.ts";
import * as der from "./der.ts";
import type { Bytes } from "./der.ts";
import { toPem } from "./pem.ts";

export type KeyType = "ec" | "rsa" | "ed25519";

export interface KeySpec {
  type: KeyType;
  /** Curve size for ec, modulus size for rsa, 0 for ed25519. */
  bits: number;
}

interface Curve {
  name: string;
  oid: string;
  hash: string;
  signatureOid: string;
}

const CURVES: Record<number, Curve> = {
  256: {
    name: "P-256",
    oid: "1.2.840.10045.3.1.7",
    hash: "SHA-256",
    signatureOid: "1.2.840.10045.4.3.2",
  },
  384: { name: "P-384", oid: "1.3.132.0.34", hash: "SHA-384", signatureOid: "1.2.840.10045.4.3.3" },
};
const RSA_BITS = [2048, 3072, 4096];
/** Vault's floor for any RSA key it certifies, whatever the role allows ("any" included). */
export const MIN_RSA_BITS = 2048;

/** Curves recognised only to name them in the refusal; none of them is certified here. */
const OTHER_CURVES: Record<string, string> = {
  "1.2.840.10045.3.1.1": "P-192",
  "1.3.132.0.33": "P-224",
  "1.3.132.0.35": "P-521",
  "1.3.132.0.10": "secp256k1",
};

const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_RSA = "1.2.840.113549.1.1.1";
const OID_ED25519 = "1.3.101.112";
const OID_SHA256_RSA = "1.2.840.113549.1.1.11";

/** Validates a key_type/key_bits pair; key_bits 0 or absent picks the type's default. */
export function keySpec(type: string, bits: number | undefined): KeySpec {
  switch (type) {
    case "ec": {
      const b = bits || 256;
      if (!CURVES[b]) {
        throw new BadRequest(`unsupported key_bits ${b} for key_type "ec": use 256 or 384`);
      }
      return { type, bits: b };
    }
    case "rsa": {
      const b = bits || 2048;
      if (!RSA_BITS.includes(b)) {
        throw new BadRequest(
          `unsupported key_bits ${b} for key_type "rsa": use 2048, 3072 or 4096`,
        );
      }
      return { type, bits: b };
    }
    case "ed25519":
      if (bits) throw new BadRequest(`key_bits must be 0 for key_type "ed25519"`);
      return { type, bits: 0 };
    default:
      throw new BadRequest(`unsupported key_type "${type}": use ec, rsa or ed25519`);
  }
}

function importAlgorithm(
  spec: KeySpec,
): AlgorithmIdentifier | EcKeyImportParams | RsaHashedImportParams {
  switch (spec.type) {
    case "ec":
      return { name: "ECDSA", namedCurve: CURVES[spec.bits]!.name };
    case "rsa":
      return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    case "ed25519":
      return { name: "Ed25519" };
  }
}

export interface GeneratedKey {
  privateKey: CryptoKey;
  pkcs8: Bytes;
  spki: Bytes;
}

export async function generateKey(spec: KeySpec): Promise<GeneratedKey> {
  const alg = spec.type === "rsa"
    ? {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: spec.bits,
      publicExponent: Uint8Array.of(1, 0, 1),
      hash: "SHA-256",
    }
    : importAlgorithm(spec);
  const pair = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const spki = (spec.type === "ec" ? ecSpkiFromPkcs8(pkcs8) : null) ??
    new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  return { privateKey: pair.privateKey, pkcs8, spki };
}

/**
 * Deno's exportKey("spki") for an EC key measured ~0.45 ms here, a third of a leaf's cost; the
 * PKCS#8 already exported carries the public point, so the SPKI is rebuilt from it. Null if absent.
 */
function ecSpkiFromPkcs8(pkcs8: Bytes): Bytes | null {
  const [, algId, inner] = der.children(pkcs8, der.root(pkcs8));
  if (!algId || !inner) return null;
  const ecKey = der.content(pkcs8, inner);
  const fields = der.children(ecKey, der.root(ecKey));
  const pub = fields.find((f) => f.tag === 0xa1);
  if (!pub) return null;
  return der.sequence(der.raw(pkcs8, algId), der.content(ecKey, pub));
}

export function importSigningKey(spec: KeySpec, pkcs8: Bytes): Promise<CryptoKey> {
  return crypto.subtle.importKey("pkcs8", pkcs8, importAlgorithm(spec), false, ["sign"]);
}

/** How a key of one spec signs X.509 structures. */
export interface SignatureScheme {
  /** WebCrypto sign() parameters. */
  params: AlgorithmIdentifier | EcdsaParams;
  /** DER AlgorithmIdentifier written into the certificate. */
  algorithmId: Bytes;
  /** WebCrypto signature bytes → the BIT STRING payload X.509 expects. */
  encode(signature: ArrayBuffer): Bytes;
}

const schemes = new Map<string, SignatureScheme>();

export function signatureScheme(spec: KeySpec): SignatureScheme {
  const id = `${spec.type}/${spec.bits}`;
  let s = schemes.get(id);
  if (s) return s;
  switch (spec.type) {
    case "ec": {
      const c = CURVES[spec.bits]!;
      s = {
        params: { name: "ECDSA", hash: c.hash },
        algorithmId: der.sequence(der.oid(c.signatureOid)),
        encode: ecdsaSignatureToDer,
      };
      break;
    }
    case "rsa":
      s = {
        params: { name: "RSASSA-PKCS1-v1_5" },
        algorithmId: der.sequence(der.oid(OID_SHA256_RSA), der.NULL),
        encode: (sig) => new Uint8Array(sig),
      };
      break;
    case "ed25519":
      s = {
        params: { name: "Ed25519" },
        algorithmId: der.sequence(der.oid(OID_ED25519)),
        encode: (sig) => new Uint8Array(sig),
      };
      break;
  }
  schemes.set(id, s);
  return s;
}

/** WebCrypto gives ECDSA signatures as r‖s; X.509 wants SEQUENCE { INTEGER r, INTEGER s }. */
function ecdsaSignatureToDer(sig: ArrayBuffer): Bytes {
  const b = new Uint8Array(sig);
  const half = b.length / 2;
  return der.sequence(
    der.unsignedInteger(b.subarray(0, half)),
    der.unsignedInteger(b.subarray(half)),
  );
}

/** The key type and size behind an SPKI; 400 for anything this engine cannot certify. */
export function specFromSpki(spki: Bytes): KeySpec {
  try {
    const [algId, key] = der.children(spki, der.root(spki));
    const [algOid, param] = der.children(spki, algId!);
    const alg = der.decodeOid(der.content(spki, algOid!));
    if (alg === OID_ED25519) return { type: "ed25519", bits: 0 };
    if (alg === OID_EC_PUBLIC_KEY && param?.tag === 0x06) {
      const curve = der.decodeOid(der.content(spki, param));
      for (const [bits, c] of Object.entries(CURVES)) {
        if (c.oid === curve) return { type: "ec", bits: Number(bits) };
      }
      const name = OTHER_CURVES[curve] ?? curve;
      throw new BadRequest(`unsupported elliptic curve ${name}: use P-256 or P-384`);
    }
    if (alg === OID_RSA) {
      const bits = der.content(spki, key!).subarray(1); // skip the unused-bits byte
      const [modulus] = der.children(bits, der.root(bits));
      const n = der.content(bits, modulus!);
      let i = 0;
      while (i < n.length && n[i] === 0) i++;
      const size = (n.length - i) * 8 - (n[i] ? Math.clz32(n[i]!) - 24 : 0);
      return { type: "rsa", bits: size };
    }
    throw new BadRequest(`unsupported public key algorithm ${alg}`);
  } catch (e) {
    if (e instanceof BadRequest) throw e;
    throw new BadRequest("malformed public key");
  }
}

/**
 * The minimum every externally supplied key must meet before anything is signed for it, role or
 * no role: a role's `key_type: "any"` waives the type, never the strength. EC curves and key
 * algorithms are already limited by specFromSpki.
 */
export function checkKeyStrength(spec: KeySpec): void {
  if (spec.type === "rsa" && spec.bits < MIN_RSA_BITS) {
    throw new BadRequest(`RSA keys must be at least ${MIN_RSA_BITS} bits (got ${spec.bits})`);
  }
}

export type PrivateKeyFormat = "der" | "pem" | "pkcs8" | "";

/**
 * Vault's `private_key_format`: the default prints EC keys as SEC1 ("EC PRIVATE KEY") and RSA keys
 * as PKCS#1 ("RSA PRIVATE KEY"); "pkcs8" prints PKCS#8. Ed25519 has only PKCS#8. `asDer` gives the
 * base64 of the same structure for `format: der`.
 */
export function privateKeyOut(
  spec: KeySpec,
  pkcs8: Bytes,
  format: PrivateKeyFormat,
  asDer: boolean,
): string {
  let label = "PRIVATE KEY";
  let body: Uint8Array = pkcs8;
  if (format !== "pkcs8" && spec.type !== "ed25519") {
    const [, algId, inner] = der.children(pkcs8, der.root(pkcs8));
    const key = der.content(pkcs8, inner!);
    if (spec.type === "rsa") {
      label = "RSA PRIVATE KEY";
      body = key;
    } else {
      // PKCS#8 leaves the curve out of the inner ECPrivateKey; SEC1 puts it back as [0].
      label = "EC PRIVATE KEY";
      const curve = der.children(pkcs8, algId!)[1]!;
      const parts = der.children(key, der.root(key)).map((n) => der.raw(key, n));
      const hasParams = der.children(key, der.root(key)).some((n) => n.tag === 0xa0);
      body = hasParams ? key : der.sequence(
        parts[0]!,
        parts[1]!,
        der.explicit(0, der.raw(pkcs8, curve)),
        ...parts.slice(2),
      );
    }
  }
  return asDer ? body.toBase64() : toPem(label, body);
}
