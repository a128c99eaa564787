/** The template filters. Each maps a value to a value; none can reach outside its argument. */
import type { FilterNode } from "./parse.ts";

/** A missing secret or field travels through filters untouched until `default` replaces it. */
export const MISSING: unique symbol = Symbol("missing");
export type Value = unknown;

/** A filter refused its input; the caller adds the position. The message never holds the value. */
export class FilterError extends Error {}

/** How a value becomes text: strings as-is, everything else (objects, null, numbers) as JSON. */
export function toText(v: Value): string {
  return typeof v === "string" ? v : JSON.stringify(v) ?? "";
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

export function applyFilter(f: FilterNode, v: Value): Value {
  if (f.name === "default") return v === MISSING ? f.arg : v;
  if (v === MISSING) return v;
  switch (f.name) {
    case "base64":
      return Buffer.from(toText(v), "utf8").toString("base64");
    case "base64decode":
      return decodeBase64(toText(v));
    case "json":
      return JSON.stringify(v);
    case "env_quote":
      return envQuote(toText(v));
    case "trim":
      return toText(v).trim();
    case "upper":
      return toText(v).toUpperCase();
    case "lower":
      return toText(v).toLowerCase();
  }
}

/** Standard or URL-safe alphabet, padding optional; anything else is refused, not skipped. */
function decodeBase64(s: string): string {
  const t = s.trim();
  if (!/^[A-Za-z0-9+/\-_]*={0,2}$/.test(t) || t.replace(/=+$/, "").length % 4 === 1) {
    throw new FilterError("base64decode: the value is not valid base64");
  }
  const bytes = Buffer.from(t.replace(/-/g, "+").replace(/_/g, "/"), "base64");
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new FilterError("base64decode: the decoded bytes are not valid UTF-8 text");
  }
}

/**
 * POSIX shell single quoting: `'…'` with each `'` written as `'\''`. Inside single quotes the
 * shell expands nothing ($, `, \, newlines are literal), so `. file` and `set -a; . file` are
 * safe. NUL cannot be carried in an environment variable, so it is refused.
 */
export function envQuote(s: string): string {
  if (s.includes("\0")) throw new FilterError("env_quote: the value contains a NUL byte");
  return `'${s.replaceAll("'", "'\\''")}'`;
}
