import assert from "node:assert/strict";
import {
  MAX_OUTPUT_BYTES,
  MAX_TEMPLATE_BYTES,
  parseTemplate,
  TemplateRenderError,
  TemplateSyntaxError,
} from "../../agent/template/mod.ts";
import { LineCounter, parseNodes } from "../../agent/template/parse.ts";

const SECRETS: Record<string, Record<string, unknown>> = {
  "secret/data/web/db": { user: "app", password: "p@ss'w\"rd $HOME `id`", port: 5432 },
  "secret/data/web/tls": { cert: "LS0tLS1CRUdJTg==", nested: { a: [1, 2] }, nul: "a\0b" },
  "secret/data/bin": { blob: "//79", url: "aGk_Pz4-" },
};
const lookup = (p: string) => SECRETS[p];

/** [template, expected output] */
const RENDER_CASES: [string, string][] = [
  ['user={{ secret "secret/data/web/db" "user" }}', "user=app"],
  ['{{secret "secret/data/web/db" "port"}}', "5432"],
  ['{{ secret "secret/data/web/db" "user" | base64 }}', "YXBw"],
  ['{{ secret "secret/data/web/tls" "cert" | base64decode }}', "-----BEGIN"],
  ['{{ secret "secret/data/bin" "url" | base64decode }}', "hi??>>"],
  ['{{ secret "secret/data/web/db" "user" | json }}', '"app"'],
  ['{{ secret "secret/data/web/db" "port" | json }}', "5432"],
  ['{{ secret "secret/data/web/tls" "nested" }}', '{"a":[1,2]}'],
  ['{{ secret "secret/data/web/db" }}', JSON.stringify(SECRETS["secret/data/web/db"])],
  ['{{ secret "secret/data/web/db" "user" | upper }}', "APP"],
  ['{{ secret "secret/data/web/db" "user" | upper | lower }}', "app"],
  ['{{ secret "nope" "x" | default "fallback" }}', "fallback"],
  ['{{ secret "secret/data/web/db" "nope" | default "" }}', ""],
  ['{{ secret "secret/data/web/db" "user" | default "unused" }}', "app"],
  ['{{ secret "nope" "x" | base64 | default "d" }}', "d"],
  ['{{ secret "nope" "x" | default "  x  " | trim }}', "x"],
  ["a {{/* a comment with }} inside */}} b", "a  b"],
  ["a\n  {{- /* trimmed */ -}}  \n b", "ab"],
  ['x:\n  {{- secret "secret/data/web/db" "user" }}\n', "x:app\n"],
  ['{{ secret "secret/data/web/db" "user" -}}\n\n!', "app!"],
  ['{{ secret "secret/data/w\\u0065b/db" "user" }}', "app"],
  ["no actions } { }} at all", "no actions } { }} at all"],
  [
    'PASSWORD={{ secret "secret/data/web/db" "password" | env_quote }}',
    `PASSWORD='p@ss'\\''w"rd $HOME \`id\`'`,
  ],
];

for (const [src, want] of RENDER_CASES) {
  Deno.test(`Template.render() ${JSON.stringify(src)}`, () => {
    assert.equal(parseTemplate(src).render(lookup), want);
  });
}

/** [template, line, column, message fragment] */
const SYNTAX_CASES: [string, number, number, string][] = [
  ["hello {{ secret", 1, 7, "unclosed action"],
  ["a\nb {{ }}", 2, 3, "empty action"],
  ['{{ env "HOME" }}', 1, 4, 'expected "secret"'],
  ["{{ secret path }}", 1, 11, "quoted path"],
  ['{{ secret "" }}', 1, 11, "path is empty"],
  ['x\n\n  {{ secret "a" "b" | bas64 }}', 3, 23, 'unknown filter "bas64"'],
  ['{{ secret "a" "b" | default }}', 1, 21, "needs a quoted argument"],
  ['{{ secret "a" "b" | upper "x" }}', 1, 27, "takes no argument"],
  ['{{ secret "a" "b" "c" }}', 1, 19, 'expected "|"'],
  ['{{ secret "a" "b" | }}', 1, 19, "expected a filter name"],
  ['{{ secret "a\n" }}', 1, 11, "unterminated string"],
  ['{{ secret "a\\q" }}', 1, 11, "invalid escape"],
  ['{{ secret "a" ; rm -rf / }}', 1, 15, "unexpected character"],
  ["{{/* never closed }}", 1, 3, "unclosed comment"],
  ['{{/* c */ secret "a" }}', 1, 11, "a comment must end the action"],
  ['{{ secret "a" "b"-}}', 1, 18, "unexpected character"],
  ['{{-secret "a" }}', 1, 3, "unexpected character"],
];

for (const [src, line, column, frag] of SYNTAX_CASES) {
  Deno.test(`parseTemplate() rejects ${JSON.stringify(src)} at ${line}:${column}`, () => {
    assert.throws(() => parseTemplate(src), (e: unknown) => {
      assert.ok(e instanceof TemplateSyntaxError, String(e));
      assert.ok(e.message.includes(frag), e.message);
      assert.ok(e.message.startsWith(`Invalid template at ${line}:${column}: `), e.message);
      assert.equal([e.line, e.column].join(":"), `${line}:${column}`);
      return true;
    });
  });
}

Deno.test("Template.render() fails on a missing secret or field, naming path and field", () => {
  const t1 = parseTemplate('A={{ secret "secret/data/gone" "pw" }}');
  assert.throws(() => t1.render(lookup), (e: unknown) => {
    assert.ok(e instanceof TemplateRenderError);
    assert.equal(e.message, 'Cannot render template at 1:3: secret "secret/data/gone" not found');
    assert.equal(e.path, "secret/data/gone");
    assert.equal(e.field, "pw");
    return true;
  });
  const t2 = parseTemplate('\n{{ secret "secret/data/web/db" "pw" | upper }}');
  assert.throws(
    () => t2.render(lookup),
    {
      message: 'Cannot render template at 2:1: field "pw" not found in secret "secret/data/web/db"',
    },
  );
});

Deno.test("Template.render() filter errors never echo the secret value", () => {
  const bad = parseTemplate('{{ secret "secret/data/web/db" "password" | base64decode }}');
  assert.throws(() => bad.render(lookup), (e: unknown) => {
    assert.ok(e instanceof TemplateRenderError);
    assert.match(e.message, /not valid base64/);
    assert.ok(!e.message.includes("p@ss"));
    return true;
  });
  const binary = parseTemplate('{{ secret "secret/data/bin" "blob" | base64decode }}');
  assert.throws(() => binary.render(lookup), /not valid UTF-8/);
  const nul = parseTemplate('{{ secret "secret/data/web/tls" "nul" | env_quote }}');
  assert.throws(() => nul.render(lookup), /NUL byte/);
});

Deno.test("env_quote output survives a real shell unchanged", async () => {
  const value = SECRETS["secret/data/web/db"]!.password as string;
  const tricky = `${value}\nline2 'x' \\ $(echo pwned) ''`;
  const src = 'V={{ secret "s" "v" | env_quote }}\nprintf %s "$V"';
  const script = parseTemplate(src).render(() => ({ v: tricky }));
  const out = await new Deno.Command("sh", { args: ["-c", script], stdout: "piped" }).output();
  assert.equal(new TextDecoder().decode(out.stdout), tricky);
});

Deno.test("Template.refs() lists each (path, field) once in order of first use", () => {
  const t = parseTemplate(
    '{{ secret "b" "x" }}{{ secret "a" "y" | default "" }}{{ secret "b" "x" | upper }}{{ secret "a" }}',
  );
  assert.deepEqual(t.refs(), [
    { path: "b", field: "x" },
    { path: "a", field: "y" },
    { path: "a" },
  ]);
  assert.deepEqual(t.paths(), ["b", "a"]);
});

Deno.test("Template.render() asks the lookup once per path", () => {
  let calls = 0;
  const t = parseTemplate('{{ secret "a" "x" }}{{ secret "a" "y" }}{{ secret "a" "x" }}');
  assert.equal(t.render(() => (calls++, { x: "1", y: "2" })), "121");
  assert.equal(calls, 1);
});

Deno.test("parseTemplate() and render() enforce the size limits", () => {
  assert.throws(() => parseTemplate("x".repeat(MAX_TEMPLATE_BYTES + 1)), TemplateSyntaxError);
  // Multi-byte characters count as bytes, not UTF-16 units.
  assert.throws(() => parseTemplate("é".repeat(MAX_TEMPLATE_BYTES / 2 + 1)), TemplateSyntaxError);
  parseTemplate("x".repeat(MAX_TEMPLATE_BYTES));
  const big = "y".repeat(MAX_OUTPUT_BYTES / 8);
  const t = parseTemplate('{{ secret "s" "v" }}'.repeat(9));
  assert.throws(() => t.render(() => ({ v: big })), /output exceeds/);
});

Deno.test("parseTemplate() offers no way to run code or read the environment", () => {
  for (const src of ['{{ env "HOME" }}', '{{ file "/etc/passwd" }}', "{{ .Data }}", "{{ eval }}"]) {
    assert.throws(() => parseTemplate(src), TemplateSyntaxError);
  }
});

Deno.test("parseNodes() scans the source about once for the positions of many actions", () => {
  // The reported case: ~880 KB of one-action lines took 6.5 s when each action's position was
  // found by scanning from the start. Counted in characters scanned, not timed.
  const lines: string[] = [];
  for (let i = 0; i < 20_000; i++) lines.push(`L${i}={{ secret "secret/data/p${i}" "f" }}`);
  for (const src of [lines.join("\n"), lines.join(" ")]) {
    const counter = new LineCounter(src);
    const nodes = parseNodes(src, counter);
    assert.equal(nodes.filter((n) => n.kind === "secret").length, 20_000);
    assert.ok(counter.scanned <= src.length, `${counter.scanned} > ${src.length}`);
  }
});

Deno.test("parseNodes() records each action's line:column, and errors point at the right place", () => {
  const src = 'a\n{{ secret "p/1" }} x {{ secret "p/2" }}\n\n  {{ secret "p/3" }}';
  const at = parseNodes(src).flatMap((n) => n.kind === "secret" ? [[n.line, n.column]] : []);
  assert.deepEqual(at, [[2, 1], [2, 22], [4, 3]]);
  // After many actions, then reported at an action's start (behind the last lookup) and inside.
  const many = Array.from({ length: 50 }, (_, i) => `{{ secret "p/${i}" }}`).join("\n");
  const cases: [string, number, number][] = [
    [many + "\n  x {{ secret", 51, 5],
    [many + '\n{{ secret "p/x" | nope }}', 51, 19],
    [many + "\nx\n   {{ }}", 52, 4],
  ];
  for (const [text, line, column] of cases) {
    assert.throws(
      () => parseTemplate(text),
      (e: unknown) => e instanceof TemplateSyntaxError && e.line === line && e.column === column,
      `${line}:${column}`,
    );
  }
});

Deno.test("parseTemplate() {{- trims a long whitespace run before the action", () => {
  const src = "x" + " \t\n".repeat(100_000) + 'y \n\t {{- secret "secret/data/web/db" "user" }}';
  assert.equal(parseTemplate(src).render(lookup), "x" + " \t\n".repeat(100_000) + "yapp");
});
