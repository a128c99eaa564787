/**
 * Text rendering in the shape Vault users read and grep: aligned `Key  Value` tables, Go-style
 * `%v` values and durations, `== Title ==` section headers.
 * @module
 */
import { formatDuration } from "../lib/duration.ts";

export type Row = readonly [string, string];

const GLUE = "    ";

/** An aligned two-column table with a `Key`/`Value` header and dashes under it. */
export function table(rows: readonly Row[], header: Row = ["Key", "Value"]): string {
  const all: Row[] = [header, [dashes(header[0]), dashes(header[1])], ...rows];
  const width = Math.max(...all.map(([k]) => k.length));
  return all.map(([k, v]) => `${k.padEnd(width)}${GLUE}${v}`.trimEnd()).join("\n");
}

function dashes(s: string): string {
  return "-".repeat(s.length);
}

/** A list with a `Keys` header, as `list` commands print. */
export function keyList(keys: readonly string[]): string {
  return ["Keys", "----", ...keys].join("\n");
}

/** `=== Title ===` padded with equal signs to roughly the width of the block below it. */
export function sectionHeader(title: string, blockText: string): string {
  const width = Math.max(0, ...blockText.split("\n").map((l) => l.length));
  let pad = width - (title.length + 2);
  if (pad <= 0) return title;
  if (pad % 2 !== 0) pad++;
  const eq = "=".repeat(pad / 2);
  return `${eq} ${title} ${eq}`;
}

/** `== Title ==` over a block, as Vault prints the parts of a KV v2 secret. */
export function section(title: string, block: string): string {
  return `${sectionHeader(title, block)}\n${block}`;
}

/** Seconds as Vault prints them: "768h", "1h30s", "0s". */
export function humanDuration(seconds: number): string {
  let s = formatDuration(Math.max(0, Math.floor(seconds)));
  if (s.endsWith("m0s")) s = s.slice(0, -2);
  s = s.replace(/h0m(?=\d|$)/, "h");
  return s;
}

/** Whether a data key holds a TTL in seconds, which Vault shows as a duration. */
export function isDurationKey(key: string): boolean {
  return key === "ttl" || key === "period" || key.endsWith("_ttl") || key.endsWith("_period");
}

/** A table cell: Go's `%v` for composite values, `n/a` for an empty string. */
export function formatValue(v: unknown): string {
  if (v === "") return "n/a";
  return goValue(v);
}

/** A table cell for `key`, turning TTL-like numbers into durations. */
export function formatCell(key: string, v: unknown): string {
  if (isDurationKey(key) && typeof v === "number") return humanDuration(v);
  return formatValue(v);
}

function goValue(v: unknown): string {
  if (v === null || v === undefined) return "<nil>";
  if (Array.isArray(v)) return `[${v.map(goValue).join(" ")}]`;
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    const parts = Object.keys(o).sort().map((k) => `${k}:${goValue(o[k])}`);
    return `map[${parts.join(" ")}]`;
  }
  return String(v);
}

/** A string list the way Vault prints policies: `["default" "dev"]`. */
export function quotedList(v: unknown): string {
  const items = Array.isArray(v) ? v : [];
  return `[${items.map((x) => JSON.stringify(String(x))).join(" ")}]`;
}

/** Pretty JSON, as `-format=json` prints it. */
export function json(v: unknown): string {
  return JSON.stringify(v ?? null, null, 2);
}
