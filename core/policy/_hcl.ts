/**
 * The subset of HCL 1 that Vault policies use, read into one generic tree that JSON policies are
 * converted into as well, so the policy decoder handles both forms with the same code.
 *
 * A block `path "x" { ... }` and an assignment `capabilities = [...]` are both items: a list of
 * keys plus a value. Nested blocks (`conditions { ... }`) need no parser change.
 *
 * @module
 */

export type HclValue = string | number | boolean | HclValue[] | HclObject;

export interface HclObject {
  readonly kind: "object";
  readonly items: HclItem[];
}

export interface HclItem {
  readonly keys: string[];
  readonly value: HclValue;
  /** 1-based; 0 when unknown (JSON input). */
  readonly line: number;
}

/** Thrown for malformed input; the message names the line and column. */
export class HclSyntaxError extends SyntaxError {
  readonly line: number;
  readonly column: number;
  constructor(message: string, line: number, column: number) {
    super(line > 0 ? `line ${line}, column ${column}: ${message}` : message);
    this.name = "HclSyntaxError";
    this.line = line;
    this.column = column;
  }
}

/** Hostile input must not be able to exhaust the stack of the recursive parser. */
const MAX_DEPTH = 32;

export function isHclObject(v: HclValue): v is HclObject {
  return typeof v === "object" && !Array.isArray(v);
}

/** Parses HCL text, or JSON text when it starts with "{" (as Vault's HCL library does). */
export function parseHclOrJson(src: string): HclObject {
  const start = src.search(/\S/);
  if (start >= 0 && src[start] === "{") return parseJson(src);
  return new Parser(tokenize(src)).parseDocument();
}

function parseJson(src: string): HclObject {
  let data: unknown;
  try {
    data = JSON.parse(src);
  } catch (err) {
    throw new HclSyntaxError(`invalid JSON: ${(err as Error).message}`, 0, 0);
  }
  const dup = duplicateKey(src);
  if (dup !== null) {
    throw new HclSyntaxError(`invalid JSON: duplicate key ${JSON.stringify(dup)}`, 0, 0);
  }
  const tree = fromJson(data, 0);
  if (!isHclObject(tree)) throw new HclSyntaxError("invalid JSON: expected an object", 0, 0);
  return tree;
}

/**
 * The first key that appears twice in one object of `src` (text JSON.parse accepted), or null.
 * JSON.parse keeps only a repeated key's last value, so two blocks for one path (a deny, then a
 * read) would silently lose the deny, and the stored text would still show it.
 */
function duplicateKey(src: string): string | null {
  // One frame per open object (its keys so far, and whether a key comes next); null for arrays.
  const stack: ({ keys: Set<string>; wantKey: boolean } | null)[] = [];
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 0x22) {
      let j = i + 1;
      while (src.charCodeAt(j) !== 0x22) j += src.charCodeAt(j) === 0x5c ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.wantKey) {
        const key = JSON.parse(src.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
        top.wantKey = false;
      }
      i = j;
    } else if (c === 0x7b) stack.push({ keys: new Set(), wantKey: true });
    else if (c === 0x5b) stack.push(null);
    else if (c === 0x7d || c === 0x5d) stack.pop();
    else if (c === 0x2c) {
      const top = stack[stack.length - 1];
      if (top) top.wantKey = true;
    }
  }
  return null;
}

function fromJson(v: unknown, depth: number): HclValue {
  if (depth > MAX_DEPTH) throw new HclSyntaxError("invalid JSON: nesting is too deep", 0, 0);
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  if (Array.isArray(v)) return v.map((e) => fromJson(e, depth + 1));
  if (v !== null && typeof v === "object") {
    const items: HclItem[] = [];
    for (const [k, val] of Object.entries(v)) {
      items.push({ keys: [k], value: fromJson(val, depth + 1), line: 0 });
    }
    return { kind: "object", items };
  }
  throw new HclSyntaxError("invalid JSON: null is not allowed in a policy", 0, 0);
}

type TokenType = "string" | "ident" | "number" | "bool" | "{" | "}" | "[" | "]" | "=" | "," | "eof";

interface Token {
  type: TokenType;
  value: string;
  line: number;
  column: number;
}

const PUNCT = new Set(["{", "}", "[", "]", "=", ","]);
const IDENT_RE = /[A-Za-z_][A-Za-z0-9_.\-]*/y;
const NUMBER_RE = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES: Record<string, string> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  n: "\n",
  t: "\t",
  r: "\r",
  b: "\b",
  f: "\f",
};

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const col = (at: number) => at - lineStart + 1;
  const fail = (msg: string, at: number): never => {
    throw new HclSyntaxError(msg, line, col(at));
  };

  while (i < src.length) {
    const c = src[i]!;
    if (c === "\n") {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r" || c === "\uFEFF") {
      i++;
      continue;
    }
    if (c === "#" || (c === "/" && src[i + 1] === "/")) {
      const nl = src.indexOf("\n", i);
      i = nl < 0 ? src.length : nl;
      continue;
    }
    if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      if (end < 0) fail("unterminated /* comment", i);
      for (let j = i; j < end; j++) {
        if (src[j] === "\n") {
          line++;
          lineStart = j + 1;
        }
      }
      i = end + 2;
      continue;
    }
    if (PUNCT.has(c)) {
      out.push({ type: c as TokenType, value: c, line, column: col(i) });
      i++;
      continue;
    }
    if (c === '"') {
      const start = i;
      let value = "";
      i++;
      for (;;) {
        if (i >= src.length || src[i] === "\n") fail("unterminated string", start);
        const ch = src[i]!;
        if (ch === '"') break;
        if (ch !== "\\") {
          value += ch;
          i++;
          continue;
        }
        const esc = src[i + 1];
        if (esc === "u" || esc === "U") {
          const len = esc === "u" ? 4 : 8;
          const hex = src.slice(i + 2, i + 2 + len);
          if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== len) fail("invalid unicode escape", i);
          const cp = parseInt(hex, 16);
          if (cp > 0x10ffff) fail("invalid unicode escape", i);
          value += String.fromCodePoint(cp);
          i += 2 + len;
          continue;
        }
        const mapped = esc === undefined ? undefined : ESCAPES[esc];
        if (mapped === undefined) fail(`invalid escape "\\${esc ?? ""}" in string`, i);
        value += mapped;
        i += 2;
      }
      out.push({ type: "string", value, line, column: col(start) });
      i++;
      continue;
    }
    NUMBER_RE.lastIndex = i;
    const num = (c === "-" || (c >= "0" && c <= "9")) ? NUMBER_RE.exec(src) : null;
    if (num) {
      out.push({ type: "number", value: num[0], line, column: col(i) });
      i += num[0].length;
      continue;
    }
    IDENT_RE.lastIndex = i;
    const ident = IDENT_RE.exec(src);
    if (ident) {
      const word = ident[0];
      const type = word === "true" || word === "false" ? "bool" : "ident";
      out.push({ type, value: word, line, column: col(i) });
      i += word.length;
      continue;
    }
    fail(`unexpected character ${JSON.stringify(c)}`, i);
  }
  out.push({ type: "eof", value: "", line, column: col(i) });
  return out;
}

function describe(t: Token): string {
  switch (t.type) {
    case "eof":
      return "end of input";
    case "string":
      return `string ${JSON.stringify(t.value)}`;
    default:
      return JSON.stringify(t.value);
  }
}

class Parser {
  #toks: Token[];
  #pos = 0;

  constructor(toks: Token[]) {
    this.#toks = toks;
  }

  parseDocument(): HclObject {
    const items = this.#items("eof", 0);
    return { kind: "object", items };
  }

  #peek(): Token {
    return this.#toks[this.#pos]!;
  }

  #next(): Token {
    return this.#toks[this.#pos++]!;
  }

  #fail(msg: string, t: Token): never {
    throw new HclSyntaxError(msg, t.line, t.column);
  }

  #expect(type: TokenType, what: string): Token {
    const t = this.#next();
    if (t.type !== type) this.#fail(`expected ${what}, found ${describe(t)}`, t);
    return t;
  }

  #items(end: "eof" | "}", depth: number): HclItem[] {
    const items: HclItem[] = [];
    for (;;) {
      const t = this.#peek();
      if (t.type === end || t.type === "eof") return items;
      // HCL 1 lets commas separate object items, newlines are insignificant.
      if (t.type === "," && items.length > 0) {
        this.#next();
        continue;
      }
      items.push(this.#item(depth));
    }
  }

  #item(depth: number): HclItem {
    const first = this.#peek();
    const keys: string[] = [];
    while (this.#peek().type === "string" || this.#peek().type === "ident") {
      keys.push(this.#next().value);
    }
    const t = this.#peek();
    if (keys.length === 0) this.#fail(`expected a key, found ${describe(t)}`, t);
    const label = JSON.stringify(keys[keys.length - 1]);
    if (t.type === "=") {
      if (keys.length !== 1) this.#fail(`expected "{" after ${label}, found "="`, t);
      this.#next();
      return { keys, value: this.#value(depth), line: first.line };
    }
    if (t.type === "{") return { keys, value: this.#object(depth), line: first.line };
    return this.#fail(`expected "=" or "{" after ${label}, found ${describe(t)}`, t);
  }

  #value(depth: number): HclValue {
    const t = this.#peek();
    switch (t.type) {
      case "string":
        this.#next();
        return t.value;
      case "number":
        this.#next();
        return Number(t.value);
      case "bool":
        this.#next();
        return t.value === "true";
      case "[":
        return this.#list(depth);
      case "{":
        return this.#object(depth);
      case "ident":
        return this.#fail(`unexpected ${describe(t)}: strings must be quoted`, t);
      default:
        return this.#fail(`expected a value, found ${describe(t)}`, t);
    }
  }

  #list(depth: number): HclValue[] {
    const open = this.#expect("[", '"["');
    if (depth >= MAX_DEPTH) this.#fail("nesting is too deep", open);
    const out: HclValue[] = [];
    for (;;) {
      if (this.#peek().type === "]") break;
      out.push(this.#value(depth + 1));
      const t = this.#peek();
      if (t.type === ",") {
        this.#next();
        continue;
      }
      if (t.type !== "]") this.#fail(`expected "," or "]" in list, found ${describe(t)}`, t);
    }
    this.#next();
    return out;
  }

  #object(depth: number): HclObject {
    const open = this.#expect("{", '"{"');
    if (depth >= MAX_DEPTH) this.#fail("nesting is too deep", open);
    const items = this.#items("}", depth + 1);
    const close = this.#next();
    if (close.type !== "}") {
      this.#fail(`expected "}" to close the block opened on line ${open.line}`, close);
    }
    return { kind: "object", items };
  }
}
