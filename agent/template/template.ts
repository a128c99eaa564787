/**
 * A parsed template: what it needs (`refs()`, so the agent knows what to fetch and subscribe to)
 * and how to render it against a lookup of secret data. Rendering is pure: no I/O, no clock.
 */
import { TemplateRenderError, TemplateSyntaxError } from "./errors.ts";
import { applyFilter, FilterError, MISSING, toText } from "./filters.ts";
import { parseNodes, type TemplateNode } from "./parse.ts";

export const MAX_TEMPLATE_BYTES = 1 << 20;
export const MAX_OUTPUT_BYTES = 16 << 20;

export interface SecretRef {
  path: string;
  /** Absent when the action renders the whole secret data as JSON. */
  field?: string;
}

/** Returns a secret's data (KV v2: the inner `data`), or undefined when the agent has none. */
export type SecretLookup = (path: string) => Record<string, unknown> | undefined;

export class Template {
  readonly #nodes: TemplateNode[];
  constructor(nodes: TemplateNode[]) {
    this.#nodes = nodes;
  }

  /** Each distinct (path, field) the template reads, in order of first use. */
  refs(): SecretRef[] {
    const seen = new Set<string>();
    const out: SecretRef[] = [];
    for (const n of this.#nodes) {
      if (n.kind !== "secret") continue;
      const key = JSON.stringify([n.path, n.field ?? null]);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(n.field === undefined ? { path: n.path } : { path: n.path, field: n.field });
    }
    return out;
  }

  /** The distinct secret paths, for fetching and subscribing. */
  paths(): string[] {
    return [...new Set(this.refs().map((r) => r.path))];
  }

  /** Renders or throws TemplateRenderError; a missing secret is never silently empty. */
  render(lookup: SecretLookup): string {
    const data = new Map<string, Record<string, unknown> | undefined>();
    const parts: string[] = [];
    let bytes = 0;
    for (const n of this.#nodes) {
      let text: string;
      if (n.kind === "text") {
        text = n.text;
      } else {
        if (!data.has(n.path)) data.set(n.path, lookup(n.path));
        text = evaluate(n, data.get(n.path));
      }
      bytes += utf8Length(text);
      if (bytes > MAX_OUTPUT_BYTES) {
        const at = n.kind === "secret" ? n : { line: 1, column: 1 };
        throw new TemplateRenderError(`the output exceeds ${MAX_OUTPUT_BYTES} bytes`, at);
      }
      parts.push(text);
    }
    return parts.join("");
  }
}

function evaluate(
  n: Extract<TemplateNode, { kind: "secret" }>,
  secret: Record<string, unknown> | undefined,
): string {
  let v: unknown = MISSING;
  if (secret !== undefined && secret !== null && typeof secret === "object") {
    if (n.field === undefined) v = secret;
    else if (Object.hasOwn(secret, n.field)) v = secret[n.field];
  }
  const where = { line: n.line, column: n.column, path: n.path, field: n.field };
  for (const f of n.filters) {
    try {
      v = applyFilter(f, v);
    } catch (e) {
      if (e instanceof FilterError) {
        throw new TemplateRenderError(`${e.message} (secret "${n.path}"${fieldNote(n)})`, where);
      }
      throw e;
    }
  }
  if (v === MISSING) {
    const detail = secret === undefined
      ? `secret "${n.path}" not found`
      : `field "${n.field}" not found in secret "${n.path}"`;
    throw new TemplateRenderError(detail, where);
  }
  return toText(v);
}

function fieldNote(n: { field?: string }): string {
  return n.field === undefined ? "" : ` field "${n.field}"`;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** Parses template source; throws TemplateSyntaxError naming line:column. */
export function parseTemplate(src: string): Template {
  // Cheap bound first: a string cannot have more UTF-8 bytes than 3 per UTF-16 unit.
  if (src.length * 3 > MAX_TEMPLATE_BYTES && utf8Length(src) > MAX_TEMPLATE_BYTES) {
    throw new TemplateSyntaxError(`the template exceeds ${MAX_TEMPLATE_BYTES} bytes`, 1, 1);
  }
  return new Template(parseNodes(src));
}
