/**
 * Parser for the agent's template language: plain text with `{{ … }}` actions. The grammar is
 * deliberately tiny and has no way to run code, read files or reach the environment:
 *
 *   action   = "{{" ["- "] ( comment | pipeline ) [" -"] "}}"
 *   comment  = "/*" … "*\/"
 *   pipeline = "secret" STRING [STRING] { "|" FILTER [STRING] }
 *
 * Strings are double-quoted with JSON escapes. `{{-` trims whitespace before the action and `-}}`
 * after it, as in Go templates (the marker must be separated from the action by whitespace).
 */
import { TemplateSyntaxError } from "./errors.ts";
import { logicalPathProblem } from "../../lib/agent_protocol.ts";

export const FILTERS = {
  base64: 0,
  base64decode: 0,
  json: 0,
  env_quote: 0,
  default: 1,
  trim: 0,
  upper: 0,
  lower: 0,
} as const;
export type FilterName = keyof typeof FILTERS;

export interface FilterNode {
  name: FilterName;
  arg?: string;
}

export type TemplateNode =
  | { kind: "text"; text: string }
  | {
    kind: "secret";
    path: string;
    field?: string;
    filters: FilterNode[];
    line: number;
    column: number;
  };

/** Go's template whitespace: space, tab, CR, LF. */
const SPACE = /[ \t\r\n]/;

function trimLeft(s: string): string {
  return s.replace(/^[ \t\r\n]+/, "");
}
/** A loop, not /[ \t\r\n]+$/: that regex retries from every space of a long run (quadratic). */
function trimRight(s: string): string {
  let end = s.length;
  while (end > 0 && SPACE.test(s[end - 1]!)) end--;
  return s.slice(0, end);
}

type Token =
  | { t: "ident"; v: string; at: number }
  | { t: "string"; v: string; at: number }
  | { t: "pipe"; at: number };

/**
 * `lines` only lets a test see how much of the source the position lookups scanned; every action
 * records its position, so a lookup that rescanned from the start made parsing quadratic.
 */
export function parseNodes(src: string, lines: LineCounter = new LineCounter(src)): TemplateNode[] {
  const nodes: TemplateNode[] = [];
  const where = (at: number) => lines.position(at);
  const fail = (msg: string, at: number): never => {
    const { line, column } = where(at);
    throw new TemplateSyntaxError(msg, line, column);
  };

  let pos = 0;
  let trimNext = false;
  while (pos <= src.length) {
    const open = src.indexOf("{{", pos);
    let text = src.slice(pos, open === -1 ? src.length : open);
    if (trimNext) text = trimLeft(text);
    trimNext = false;
    if (open === -1) {
      if (text) nodes.push({ kind: "text", text });
      break;
    }
    let i = open + 2;
    if (src[i] === "-" && SPACE.test(src[i + 1] ?? "")) {
      text = trimRight(text);
      i += 1;
    }
    if (text) nodes.push({ kind: "text", text });

    while (i < src.length && SPACE.test(src[i]!)) i++;
    const tokens: Token[] = [];
    let closed = false;
    let isComment = false;
    if (src.startsWith("/*", i)) {
      const end = src.indexOf("*/", i + 2);
      if (end === -1) fail("unclosed comment", i);
      i = end + 2;
      isComment = true;
    }
    while (i < src.length) {
      const c = src[i]!;
      if (SPACE.test(c)) {
        i++;
        continue;
      }
      if (src.startsWith("}}", i)) {
        i += 2;
        closed = true;
        break;
      }
      if (c === "-" && src.startsWith("-}}", i) && SPACE.test(src[i - 1] ?? "")) {
        i += 3;
        trimNext = true;
        closed = true;
        break;
      }
      if (isComment) fail("a comment must end the action", i);
      if (c === "|") {
        tokens.push({ t: "pipe", at: i });
        i++;
      } else if (c === '"') {
        const { value, end } = readString(src, i, fail);
        tokens.push({ t: "string", v: value, at: i });
        i = end;
      } else if (/[A-Za-z_]/.test(c)) {
        const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 64))!;
        tokens.push({ t: "ident", v: m[0], at: i });
        i += m[0].length;
      } else {
        fail(`unexpected character ${JSON.stringify(c)}`, i);
      }
    }
    if (!closed) fail('unclosed action: missing "}}"', open);
    if (!isComment) nodes.push(parseAction(tokens, open, where, fail));
    pos = i;
  }
  return nodes;
}

function parseAction(
  tokens: Token[],
  open: number,
  where: (at: number) => { line: number; column: number },
  fail: (msg: string, at: number) => never,
): TemplateNode {
  let k = 0;
  const head = tokens[k++];
  if (!head) fail("empty action", open);
  if (head!.t !== "ident" || head!.v !== "secret") {
    fail(`expected "secret" at the start of an action`, head!.at);
  }
  const path = tokens[k++];
  if (path?.t !== "string") fail('"secret" needs a quoted path', path?.at ?? head!.at);
  if (path!.t === "string" && path!.v.trim() === "") fail("the secret path is empty", path!.at);
  // Core refuses such a path in a subscribe frame, and with it every other path in the frame.
  const problem = logicalPathProblem((path as { v: string }).v);
  if (problem !== null) {
    fail(`the secret path ${JSON.stringify((path as { v: string }).v)} ${problem}`, path!.at);
  }
  const node: TemplateNode = {
    kind: "secret",
    path: (path as { v: string }).v,
    filters: [],
    ...where(open),
  };
  if (tokens[k]?.t === "string") {
    const f = tokens[k++] as { v: string; at: number };
    if (f.v === "") fail("the field name is empty", f.at);
    node.field = f.v;
  }
  while (k < tokens.length) {
    const pipe = tokens[k++]!;
    if (pipe.t !== "pipe") fail(`expected "|" or "}}"`, pipe.at);
    const name = tokens[k++];
    if (name?.t !== "ident") fail('expected a filter name after "|"', name?.at ?? pipe.at);
    const n = (name as { v: string }).v;
    if (!Object.hasOwn(FILTERS, n)) fail(`unknown filter ${JSON.stringify(n)}`, name!.at);
    const filter: FilterNode = { name: n as FilterName };
    if (FILTERS[n as FilterName] === 1) {
      const arg = tokens[k++];
      if (arg?.t !== "string") fail(`filter "${n}" needs a quoted argument`, arg?.at ?? name!.at);
      filter.arg = (arg as { v: string }).v;
    } else if (tokens[k]?.t === "string") {
      fail(`filter "${n}" takes no argument`, tokens[k]!.at);
    }
    node.filters.push(filter);
  }
  return node;
}

/** Reads a JSON-style double-quoted string starting at `start` (the opening quote). */
function readString(
  src: string,
  start: number,
  fail: (msg: string, at: number) => never,
): { value: string; end: number } {
  let i = start + 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '"') {
      const raw = src.slice(start, i + 1);
      try {
        return { value: JSON.parse(raw) as string, end: i + 1 };
      } catch {
        fail("invalid escape in string", start);
      }
    }
    if (c === "\n") break;
    i += c === "\\" ? 2 : 1;
  }
  return fail("unterminated string", start);
}

/**
 * 1-based line and column (in UTF-16 code units, as editors mostly count) of offsets in `src`.
 * Actions are met in source order, so each lookup resumes where the previous one stopped and the
 * whole source is scanned about once; only a lookup behind it (an error reported at an action's
 * start) starts again from the beginning.
 */
export class LineCounter {
  readonly #src: string;
  #line = 1;
  #lineStart = 0;
  /** The first newline not yet counted (-1: none left), found by the previous scan. */
  #next: number;
  #scanned = 0;

  constructor(src: string) {
    this.#src = src;
    this.#next = this.#find(0);
  }

  /** Characters examined so far, over all lookups. */
  get scanned(): number {
    return this.#scanned;
  }

  position(at: number): { line: number; column: number } {
    if (at < this.#lineStart) {
      this.#line = 1;
      this.#lineStart = 0;
      this.#next = this.#find(0);
    }
    while (this.#next !== -1 && this.#next < at) {
      this.#line++;
      this.#lineStart = this.#next + 1;
      this.#next = this.#find(this.#lineStart);
    }
    return { line: this.#line, column: at - this.#lineStart + 1 };
  }

  #find(from: number): number {
    const i = this.#src.indexOf("\n", from);
    this.#scanned += (i === -1 ? this.#src.length : i + 1) - from;
    return i;
  }
}
