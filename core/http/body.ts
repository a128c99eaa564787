/** Reads a request body within the size limit and turns it (or the query) into request data. */
import { BadRequest, PayloadTooLarge } from "../../lib/errors.ts";

/**
 * Deepest nesting of objects and arrays a JSON body may have (the body object itself is level 1).
 * Well below the audit's own limit (MAX_DATA_DEPTH in core/audit/entry.ts), so that no body which passes here can
 * make the audit refuse the request later (the short routes wrap a flat body in one more level).
 */
export const MAX_BODY_DEPTH = 64;

/**
 * Most values a request body may hold: strings, numbers, booleans, nulls, objects and arrays at
 * any depth (the body object itself not counted; a form counts its fields), and the same cap on
 * a query's parameters. The audit HMACs every leaf synchronously (a few µs each) and stores each
 * as a ~78-byte tag, so 10 MB of tiny strings (`["a","a",…]`, 2.5M values) would stall the
 * server for ~20 s and write ~200 MB of audit. 10,000 is far above any real request (a KV
 * secret has at most 1000 top-level keys; a certificate or policy is one string) and keeps the
 * audit's work per request to tens of milliseconds.
 */
export const MAX_BODY_VALUES = 10_000;

const TOO_MANY_VALUES = `request body has too many values (at most ${MAX_BODY_VALUES} strings, ` +
  "numbers, booleans, nulls, objects and arrays)";

/**
 * Bounds the time spent reading a body: settles as `p` does, or rejects once the request's
 * deadline passes, after calling `abandon` (which stops the read).
 */
export type BodyDeadline = (p: Promise<Uint8Array>, abandon: () => void) => Promise<Uint8Array>;

/**
 * The request data of `req`'s body. `deadline`, when given, bounds the read: a client that
 * trickles its body in is answered when the request's time is up (its error, e.g. a 408), and
 * the rest of the body is not read.
 */
export async function readBody(
  req: Request,
  limit: number,
  deadline?: BodyDeadline,
): Promise<Record<string, unknown>> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) throw new PayloadTooLarge();
  if (!req.body) return {};
  const reader = req.body.getReader();
  const reading = collect(reader, limit);
  const buf = deadline
    ? await deadline(reading, () => void reader.cancel().catch(() => {}))
    : await reading;
  if (buf.length === 0) return {};
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    throw new BadRequest("request body is not valid UTF-8");
  }
  return parseBody(text, req.headers.get("content-type") ?? "");
}

/** The body's bytes, at most `limit` of them (413 past that). */
async function collect(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  limit: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new PayloadTooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const buf = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    buf.set(c, off);
    off += c.length;
  }
  return buf;
}

/** The request data of a body's text: JSON, or a form when Vault's isForm() would say so. */
export function parseBody(text: string, contentType: string): Record<string, unknown> {
  const first = firstSignificant(text);
  // `curl -d '{...}'` labels JSON as a form. Like Vault's isForm(), a form body that opens
  // with "{" or "[" (after JSON whitespace) is JSON all the same.
  if (first !== 0x7b && first !== 0x5b && isFormType(contentType)) {
    const form = new URLSearchParams(text);
    if (form.size > MAX_BODY_VALUES) {
      throw new BadRequest(`request body has too many values (at most ${MAX_BODY_VALUES} fields)`);
    }
    return fromForm(form);
  }
  if (first === -1) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadRequest("failed to parse JSON input: invalid JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new BadRequest("failed to parse JSON input: the body must be a JSON object");
  }
  // Nesting deeper than MAX_BODY_DEPTH needs more than twice that many brackets, and each value
  // takes at least two characters (its own and a comma or closing bracket): a short body is
  // within both limits without a walk.
  const over = text.length > 2 * MAX_BODY_DEPTH ? overLimit(parsed) : null;
  if (over === "depth") {
    throw new BadRequest(
      `failed to parse JSON input: nested too deeply (at most ${MAX_BODY_DEPTH} levels of objects and arrays)`,
    );
  }
  if (over === "values") throw new BadRequest(TOO_MANY_VALUES);
  if (MAYBE_INEXACT.test(text)) checkNumbers(text);
  return parsed as Record<string, unknown>;
}

/** The first byte that is not JSON whitespace (space, tab, LF, CR), or -1. */
function firstSignificant(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return -1;
}

/** Whether the media type (parameters and case aside) is application/x-www-form-urlencoded. */
function isFormType(contentType: string): boolean {
  // Shorter than the form type itself ("application/json"): no need to parse it.
  if (contentType.length < FORM_TYPE.length) return false;
  if (contentType === FORM_TYPE) return true;
  const semi = contentType.indexOf(";");
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return type === FORM_TYPE;
}

const FORM_TYPE = "application/x-www-form-urlencoded";

/**
 * Which limit the parsed body breaks, if any: nesting deeper than MAX_BODY_DEPTH, or more than
 * MAX_BODY_VALUES values. The walk stops at the first breach, so it visits at most
 * MAX_BODY_VALUES + 1 values and recurses at most MAX_BODY_DEPTH + 1 levels.
 */
function overLimit(body: object): "depth" | "values" | null {
  return walk(body, 1, { left: MAX_BODY_VALUES });
}

/** overLimit() below `v` (at level `depth`); `budget.left` is how many more values may come. */
function walk(v: object, depth: number, budget: { left: number }): "depth" | "values" | null {
  if (depth > MAX_BODY_DEPTH) return "depth";
  const children = Array.isArray(v) ? v : Object.values(v);
  if (children.length > budget.left) return "values";
  budget.left -= children.length;
  for (const x of children) {
    if (typeof x === "object" && x !== null) {
      const over = walk(x, depth + 1, budget);
      if (over) return over;
    }
  }
  return null;
}

/**
 * A number that JSON.parse may not keep exactly: one with an exponent (it can overflow to
 * Infinity or underflow to 0) or with 16 or more digits (past 15 significant digits a double
 * cannot hold every value). Anchored on what can come before a JSON number (":", "," or "[" and
 * whitespace), so ordinary bodies (and strings like UUIDs) rarely match; a match only costs the
 * exact check below. A number always has such a prefix (a top-level number is refused above).
 */
const MAYBE_INEXACT = /[:,[]\s*-?\d(?:[\d.]{15}|[\d.]*[eE])/;

/**
 * Refuses a number whose value the parse did not keep: not finite (1e400), or one that JavaScript
 * writes back as a different decimal value (12345678901234567890123 would come back as
 * 12345678901234568000000). A secrets store must not silently change what it was given; a client
 * with such a value can send it as a string. Uses the reviver's `context.source` (the literal's
 * text); the body is known to be at most MAX_BODY_DEPTH deep, so the reviver's walk is bounded.
 */
function checkNumbers(text: string): void {
  JSON.parse(text, function (key: string, value: unknown, context?: { source?: string }) {
    if (typeof value === "number" && context?.source !== undefined) {
      if (!Number.isFinite(value) || !sameDecimal(context.source, value)) {
        // The key, not the number: the value may be the secret itself.
        const where = key.length > 64
          ? JSON.stringify(key.slice(0, 64)) + "…"
          : JSON.stringify(key);
        throw new BadRequest(
          `failed to parse JSON input: the number at ${where} cannot be stored exactly ` +
            "(out of range, or more digits than a 64-bit float keeps); send it as a string",
        );
      }
    }
    return value;
  });
}

/** Decimal value as significant digits and a power of ten: "120.50" → ["1205", -1]; zero → ["", 0]. */
function decimal(s: string): [string, number] | null {
  const m = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) return null;
  const frac = m[2] ?? "";
  let digits = m[1]! + frac;
  let exp = (m[3] ? Number(m[3]) : 0) - frac.length;
  let start = 0;
  while (start < digits.length && digits.charCodeAt(start) === 0x30) start++;
  let end = digits.length;
  while (end > start && digits.charCodeAt(end - 1) === 0x30) end--;
  if (start === end) return ["", 0];
  exp += digits.length - end;
  digits = digits.slice(start, end);
  return [digits, exp];
}

/** Whether the literal and the number as JavaScript writes it denote the same decimal value. */
function sameDecimal(source: string, value: number): boolean {
  const a = decimal(source);
  const b = decimal(String(value).replace("e+", "e"));
  if (!a || !b) return false;
  if (a[0] === "" && b[0] === "") return true; // 0 and -0: the sign of zero is no value
  return a[0] === b[0] && a[1] === b[1] && (source.charCodeAt(0) === 0x2d) === (value < 0);
}

const SKIP = new Set(["list", "help"]);

/** A form body as Vault's parseFormRequest reads it: a repeated key's values joined by ",". */
function fromForm(q: URLSearchParams): Record<string, unknown> {
  const out: Record<string, string> = {};
  for (const [k, v] of q) out[k] = Object.hasOwn(out, k) ? `${out[k]},${v}` : v;
  return out;
}

/** A query's parameters as request data (at most MAX_BODY_VALUES of them, as a body's values). */
export function fromQuery(q: URLSearchParams): Record<string, unknown> {
  if (q.size > MAX_BODY_VALUES) {
    throw new BadRequest(`too many query parameters (at most ${MAX_BODY_VALUES})`);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of q) {
    if (SKIP.has(k)) continue;
    const prev = out[k];
    // Repeated keys become a list, like Go's url.Values.
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/**
 * A boolean query parameter as Vault reads `list`: absent or empty is false, otherwise exactly
 * Go's strconv.ParseBool (1, t, T, TRUE, true, True / 0, f, F, FALSE, false, False); anything
 * else is a 400, not a silent false.
 */
export function truthy(v: string | null, name = "list"): boolean {
  if (v === null || v === "") return false;
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  const shown = v.length > 32 ? JSON.stringify(v.slice(0, 32)) + "…" : JSON.stringify(v);
  throw new BadRequest(`invalid value for "${name}": ${shown} (expected true or false)`);
}
