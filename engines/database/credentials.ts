/**
 * Generated credentials: Vault's default PostgreSQL username template
 * (`v-<display>-<role>-<random20>-<unix>`, at most 63 bytes, PostgreSQL's identifier limit) and
 * its default password policy (alphanumerics and "-", at least one of each class), plus the
 * `{{expiration}}` timestamp (VALID UNTIL).
 */

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS = "0123456789";
const PASSWORD_CHARSET = LOWER + UPPER + DIGITS + "-";

/** PostgreSQL truncates identifiers longer than this (NAMEDATALEN - 1). */
export const MAX_USERNAME_LENGTH = 63;
export const PASSWORD_LENGTH = 24;

/** Uniform characters from `charset` (rejection sampling: no modulo bias). */
export function randomString(length: number, charset: string): string {
  const limit = 256 - (256 % charset.length);
  let out = "";
  while (out.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (b < limit) out += charset[b % charset.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** Lowercase, only [a-z0-9_-], at most `max` characters (Vault's `truncate 8`). */
function part(s: string, max: number): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, "_").slice(0, max);
}

export function generateUsername(displayName: string, roleName: string, nowMs: number): string {
  const name = [
    "v",
    part(displayName, 8),
    part(roleName, 8),
    randomString(20, LOWER + DIGITS),
    String(Math.floor(nowMs / 1000)),
  ].join("-");
  return name.slice(0, MAX_USERNAME_LENGTH);
}

/** Draws again until every class is present (a fixed position would make it predictable). */
export function generatePassword(length = PASSWORD_LENGTH): string {
  for (;;) {
    const p = randomString(length, PASSWORD_CHARSET);
    if (/[a-z]/.test(p) && /[A-Z]/.test(p) && /[0-9]/.test(p) && p.includes("-")) return p;
  }
}

/**
 * How long a login outlives its lease (Vault's 5 s): core times the lease from a clock read
 * taken after the login was made, and revokes the login when the lease ends, which must come
 * first.
 */
export const VALID_UNTIL_MARGIN_MS = 5_000;

/**
 * `YYYY-MM-DD HH:MM:SS+00`: UTC, a form PostgreSQL's `VALID UNTIL` reads unambiguously. Rounded
 * up to the second, never to before `ms`.
 */
export function formatExpiration(ms: number): string {
  const iso = new Date(Math.ceil(ms / 1000) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}+00`;
}

/** The `{{expiration}}` for a login whose lease ends at `leaseExpiry` (Unix ms). */
export function validUntil(leaseExpiry: number): string {
  return formatExpiration(leaseExpiry + VALID_UNTIL_MARGIN_MS);
}
