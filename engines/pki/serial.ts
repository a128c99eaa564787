/**
 * Serial numbers. Vault prints them as lowercase hex pairs joined by ":" and keys storage with "-";
 * both are accepted on input. The canonical form is the integer's magnitude with no leading zero
 * byte, so a serial read back from any DER encoding maps to the same storage key.
 */
import { BadRequest, fields } from "../sdk.ts";
import type { Bytes } from "./der.ts";

/** 128 random bits as a positive INTEGER whose first byte is 0x01–0x7f (no sign or pad byte). */
export function randomSerial(): Bytes {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0]! & 0x7f) || 0x01;
  return b;
}

export function formatSerial(magnitude: Uint8Array, sep = ":"): string {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  return Array.from(magnitude.subarray(i), (x) => x.toString(16).padStart(2, "0")).join(sep);
}

/** "AA:bb", "aa-bb" or "aabb" → "aa-bb" (the storage form); 400 on anything else. */
export function normalizeSerial(input: string): string {
  const s = input.trim().toLowerCase();
  const invalid = () => new BadRequest(`invalid serial number ${fields.quoted(input, 64)}`);
  // 20 bytes (RFC 5280's limit) are at most 59 characters with separators; the bound keeps a
  // megabyte string from the repeated group below.
  if (s.length > 128) throw invalid();
  let pairs: string[];
  if (/^[0-9a-f]{1,2}([:-][0-9a-f]{1,2})*$/.test(s)) {
    pairs = s.split(/[:-]/).map((p) => p.padStart(2, "0"));
  } else if (/^[0-9a-f]+$/.test(s)) {
    const even = s.length % 2 ? "0" + s : s;
    pairs = even.match(/../g)!;
  } else {
    throw invalid();
  }
  while (pairs.length > 1 && pairs[0] === "00") pairs.shift();
  if (pairs.length > 20) throw invalid();
  return pairs.join("-");
}

export function colonSerial(dashed: string): string {
  return dashed.replaceAll("-", ":");
}
