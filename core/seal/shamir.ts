/** Shamir over GF(256) via `shamir-secret-sharing`; one share means the key itself (as Vault). */
import { combine, split } from "shamir-secret-sharing";

export async function splitKey(
  key: Uint8Array,
  shares: number,
  threshold: number,
): Promise<Uint8Array[]> {
  if (shares === 1) return [key.slice()];
  return await split(key, shares, threshold);
}

export async function combineShares(shares: Uint8Array[]): Promise<Uint8Array> {
  if (shares.length === 1) return shares[0]!.slice();
  return await combine(shares);
}
