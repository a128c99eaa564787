/**
 * Printing API results: `-format=json` prints the body as JSON, `-field=k` prints one raw value,
 * and the table format lays the Vault envelope out as `Key  Value` rows.
 * @module
 */
import type { Ctx } from "./command.ts";
import { CliError, warningsOf } from "./errors.ts";
import { formatCell, humanDuration, json, keyList, quotedList, type Row, table } from "./format.ts";

/** A table row that keeps the raw value, so `-field` can print it unformatted. */
export interface Field {
  key: string;
  raw: unknown;
  cell: string;
}

export type Obj = Record<string, unknown>;

export function asObj(v: unknown): Obj {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : {};
}

/** The envelope's `data`, or the body itself for endpoints that answer unwrapped. */
export function dataOf(body: unknown): Obj {
  const b = asObj(body);
  return Object.hasOwn(b, "data") ? asObj(b.data) : b;
}

/** Rows from a plain map, keys sorted, TTL-like numbers shown as durations. */
export function mapFields(data: Obj): Field[] {
  return Object.keys(data).sort().map((key) => ({
    key,
    raw: data[key],
    cell: formatCell(key, data[key]),
  }));
}

/** Rows for a response envelope in Vault's order: lease, auth block, then data. */
export function secretFields(body: unknown): Field[] {
  const b = asObj(body);
  const out: Field[] = [];
  const add = (key: string, raw: unknown, cell: string) => out.push({ key, raw, cell });
  const leaseDuration = typeof b.lease_duration === "number" ? b.lease_duration : 0;
  if (leaseDuration > 0) {
    if (b.lease_id) {
      add("lease_id", b.lease_id, String(b.lease_id));
      add("lease_duration", leaseDuration, humanDuration(leaseDuration));
      add("lease_renewable", b.renewable, String(b.renewable ?? false));
    } else {
      add("refresh_interval", leaseDuration, humanDuration(leaseDuration));
    }
  }
  if (b.auth && typeof b.auth === "object") out.push(...authFields(asObj(b.auth)));
  out.push(...mapFields(asObj(b.data)));
  return out;
}

/** The auth block as Vault's `token ...` rows. */
export function authFields(auth: Obj): Field[] {
  const ttl = typeof auth.lease_duration === "number" ? auth.lease_duration : 0;
  const duration = ttl > 0 ? humanDuration(ttl) : "∞";
  const rows: Field[] = [
    { key: "token", raw: auth.client_token, cell: String(auth.client_token ?? "") },
    { key: "token_accessor", raw: auth.accessor, cell: String(auth.accessor ?? "") },
    { key: "token_duration", raw: duration, cell: duration },
    { key: "token_renewable", raw: auth.renewable, cell: String(auth.renewable ?? false) },
    { key: "token_policies", raw: auth.token_policies, cell: quotedList(auth.token_policies) },
    {
      key: "identity_policies",
      raw: auth.identity_policies ?? [],
      cell: quotedList(auth.identity_policies),
    },
    { key: "policies", raw: auth.policies, cell: quotedList(auth.policies) },
  ];
  const meta = asObj(auth.metadata);
  for (const k of Object.keys(meta).sort()) {
    rows.push({ key: `token_meta_${k}`, raw: meta[k], cell: formatCell(k, meta[k]) });
  }
  return rows;
}

export function rowsOf(fields: readonly Field[]): Row[] {
  return fields.map((f) => [f.key, f.cell] as const);
}

/**
 * Prints one field's raw value; exit 1 when the field is absent, as in Vault. As Vault's
 * PrintRaw, no newline is added unless stdout is a terminal: `-field=k > file` must give back
 * exactly the stored bytes.
 */
export function printField(ctx: Ctx, fields: readonly Field[], name: string): number {
  const f = fields.find((x) => x.key === name);
  if (!f) throw new CliError(`Field "${name}" not present in secret`);
  const text = ctx.format === "json" ? json(f.raw) : typeof f.raw === "string" ? f.raw : f.cell;
  if (ctx.io.stdoutIsTerminal()) ctx.io.out(text);
  else ctx.io.outRaw(text);
  return 0;
}

/** Warnings go to stderr so that stdout stays parseable. */
export function printWarnings(ctx: Ctx, body: unknown): void {
  if (ctx.format === "json") return;
  writeWarnings(ctx, body);
}

function writeWarnings(ctx: Ctx, body: unknown): void {
  const w = warningsOf(body);
  if (w.length === 0) return;
  ctx.io.err(
    "WARNING! The following warnings were returned from SecretHub:\n\n" +
      w.map((x) => `  * ${x}`).join("\n") + "\n",
  );
}

/**
 * "No value found" (exit 2), after any warnings the 404 carried: they say why (a KV v2 path
 * read as v1), and no body is printed that would hold them, whatever the format.
 */
export function printNotFound(ctx: Ctx, body: unknown, path: string): number {
  writeWarnings(ctx, body);
  ctx.io.err(`No value found at ${path}`);
  return 2;
}

/** The standard rendering of a response envelope (read, write, token commands). */
export function printSecret(ctx: Ctx, body: unknown, fields = secretFields(body)): number {
  printWarnings(ctx, body);
  if (ctx.field !== undefined) return printField(ctx, fields, ctx.field);
  if (ctx.format === "json") ctx.io.out(json(body));
  else if (fields.length > 0) ctx.io.out(table(rowsOf(fields)));
  return 0;
}

/** A plain map as a table or JSON (sys endpoints that return bare objects). */
export function printMap(ctx: Ctx, data: Obj): number {
  return printSecret(ctx, data, mapFields(data));
}

export function printKeys(ctx: Ctx, keys: readonly string[]): number {
  ctx.io.out(ctx.format === "json" ? json(keys) : keyList(keys));
  return 0;
}

/** The `keys` list of a LIST response. */
export function keysOf(body: unknown): string[] {
  const keys = dataOf(body).keys;
  return Array.isArray(keys) ? keys.map(String) : [];
}

/** "Success! ..." goes to stderr in JSON mode, where scripts expect stdout to be JSON only. */
export function printSuccess(ctx: Ctx, message: string): number {
  (ctx.format === "json" ? ctx.io.err : ctx.io.out)(`Success! ${message}`);
  return 0;
}
