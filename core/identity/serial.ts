/**
 * Certificate serials in one canonical form: lowercase hex of the integer, no separators, no
 * leading zeros. Deno's peer certificate drops a leading zero byte and Vault prints "aa:bb:…", so
 * serials are only ever compared in this form.
 */
import { BadRequest } from "../../lib/errors.ts";

export function canonicalSerial(input: string): string {
  const hex = input.trim().toLowerCase().replace(/[:-]/g, "");
  if (!/^[0-9a-f]{1,80}$/.test(hex)) throw new BadRequest(`invalid serial number "${input}"`);
  return BigInt("0x" + hex).toString(16);
}

/** "aa:bb:…" (Vault's display form) from the canonical form. */
export function colonSerial(canonical: string): string {
  const even = canonical.length % 2 ? "0" + canonical : canonical;
  return even.match(/../g)!.join(":");
}
