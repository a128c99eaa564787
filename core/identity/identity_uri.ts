/** The identity a certificate carries: exactly one `urn:secrethub:<kind>:<id>` URI SAN. */
import type { PeerIdentity } from "../router/types.ts";

export type IdentityKind = PeerIdentity["kind"];

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isIdentityId(id: string): boolean {
  return ID.test(id);
}

export function identityUri(kind: IdentityKind, id: string): string {
  if (!isIdentityId(id)) throw new TypeError(`invalid identity id "${id}"`);
  return `urn:secrethub:${kind}:${id}`;
}

/**
 * Reads node's `subjectAltName` text ("URI:urn:…, DNS:…"). More than one identity URI is refused:
 * a certificate must never speak for two entities.
 */
export function identityFromSan(
  san: string | undefined,
): { kind: IdentityKind; id: string } | null {
  if (!san) return null;
  const found: { kind: IdentityKind; id: string }[] = [];
  for (const part of san.split(/,\s*/)) {
    const m = /^URI:urn:secrethub:(app|agent):(.+)$/.exec(part.trim());
    if (m && isIdentityId(m[2]!)) found.push({ kind: m[1] as IdentityKind, id: m[2]! });
    else if (part.includes("urn:secrethub:")) return null;
  }
  return found.length === 1 ? found[0]! : null;
}
