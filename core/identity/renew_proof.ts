/**
 * Proof of possession for a renewal without mTLS: a signature by the current certificate's key
 * over `secrethub-renew\n<sha256 hex of the CSR PEM as sent>\n<unix seconds>`. Verified with
 * WebCrypto: ECDSA P-256/SHA-256 and P-384/SHA-384 (DER, as `openssl dgst` writes it, or raw
 * r‖s), Ed25519, and RSA PKCS#1 v1.5 with SHA-256.
 */
import { X509Certificate } from "node:crypto";
import { sha256Hex } from "../../lib/crypto.ts";

/** How far the proof's timestamp may be from the core's clock. */
export const PROOF_WINDOW_SECONDS = 300;

export function renewMessage(csrPem: string, timestamp: number): string {
  return `secrethub-renew\n${sha256Hex(csrPem)}\n${timestamp}`;
}

type Alg = { key: AlgorithmIdentifier | EcKeyImportParams | RsaHashedImportParams; sig: unknown };

function algorithmOf(x: X509Certificate): { alg: Alg; rawLen: number } | null {
  const k = x.publicKey;
  switch (k.asymmetricKeyType) {
    case "ec": {
      const curve = k.asymmetricKeyDetails?.namedCurve;
      if (curve === "prime256v1" || curve === "P-256") {
        return {
          alg: {
            key: { name: "ECDSA", namedCurve: "P-256" },
            sig: { name: "ECDSA", hash: "SHA-256" },
          },
          rawLen: 64,
        };
      }
      if (curve === "secp384r1" || curve === "P-384") {
        return {
          alg: {
            key: { name: "ECDSA", namedCurve: "P-384" },
            sig: { name: "ECDSA", hash: "SHA-384" },
          },
          rawLen: 96,
        };
      }
      return null;
    }
    case "ed25519":
      return { alg: { key: { name: "Ed25519" }, sig: { name: "Ed25519" } }, rawLen: 0 };
    case "rsa":
      return {
        alg: {
          key: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
          sig: { name: "RSASSA-PKCS1-v1_5" },
        },
        rawLen: 0,
      };
    default:
      return null;
  }
}

/** ECDSA-Sig-Value (SEQUENCE of two INTEGERs) → r‖s, each left-padded to `half` bytes. */
export function derToRawEcdsa(sig: Uint8Array, half: number): Uint8Array | null {
  let i = 0;
  const len = (): number | null => {
    const first = sig[i++];
    if (first === undefined) return null;
    if (first < 0x80) return first;
    const n = first & 0x7f;
    if (n === 0 || n > 2) return null;
    let v = 0;
    for (let k = 0; k < n; k++) {
      const b = sig[i++];
      if (b === undefined) return null;
      v = (v << 8) | b;
    }
    return v;
  };
  if (sig[i++] !== 0x30) return null;
  const total = len();
  if (total === null || i + total !== sig.length) return null;
  const out = new Uint8Array(half * 2);
  for (let part = 0; part < 2; part++) {
    if (sig[i++] !== 0x02) return null;
    const n = len();
    if (n === null || n === 0 || i + n > sig.length) return null;
    let int = sig.subarray(i, i + n);
    i += n;
    while (int.length > 1 && int[0] === 0) int = int.subarray(1);
    if (int.length > half) return null;
    out.set(int, part * half + half - int.length);
  }
  return i === sig.length ? out : null;
}

/** True when `signature` is `message` signed by the key of `certPem`. */
export async function verifyKeySignature(
  certPem: string,
  message: string,
  signature: Uint8Array,
): Promise<boolean> {
  let x: X509Certificate;
  try {
    x = new X509Certificate(certPem);
  } catch {
    return false;
  }
  const a = algorithmOf(x);
  if (!a) return false;
  let sig = signature;
  if (a.rawLen && sig.length !== a.rawLen) {
    const raw = derToRawEcdsa(sig, a.rawLen / 2);
    if (!raw) return false;
    sig = raw;
  }
  try {
    const spki = new Uint8Array(x.publicKey.export({ type: "spki", format: "der" }));
    const key = await crypto.subtle.importKey("spki", spki, a.alg.key, false, ["verify"]);
    return await crypto.subtle.verify(
      a.alg.sig as AlgorithmIdentifier,
      key,
      new Uint8Array(sig),
      new TextEncoder().encode(message),
    );
  } catch {
    return false;
  }
}
