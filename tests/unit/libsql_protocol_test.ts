import assert from "node:assert/strict";
import {
  decodeLinks,
  encodeLink,
  forEachLine,
  joinLines,
} from "../../core/storage/libsql_protocol.ts";
import { canonicalize } from "../../core/audit/entry.ts";

Deno.test("audit entries survive the text hand-off to the writer, control characters included", () => {
  const entries = [
    { path: "secret/data/a\tb", error: "line1\nline2\r\u0000", n: 1 },
    { path: "ünïcødé 😀 \u2028", list: ["\t", "\n"] },
    {},
  ].map((e) => canonicalize(e));
  const seen: string[] = [];
  forEachLine(joinLines(entries), (line) => seen.push(line));
  assert.deepEqual(seen, entries);
  let calls = 0;
  forEachLine("", () => calls++);
  assert.equal(calls, 0);
  // Text whose last "\n" was cut (an edited audit block) still yields its last line, and ends.
  const cut: string[] = [];
  forEachLine("a\n\nb", (line) => cut.push(line));
  assert.deepEqual(cut, ["a", "", "b"]);
});

Deno.test("chain links come back from the writer as they were", () => {
  const links = [1, 2, 3].map((seq) => ({
    seq: 40 + seq,
    prevHash: String(seq).repeat(64),
    hash: "ab".repeat(32),
    mac: "cd".repeat(32),
  }));
  assert.deepEqual(decodeLinks(links.map(encodeLink).join("")), links);
  assert.deepEqual(decodeLinks(""), []);
});
