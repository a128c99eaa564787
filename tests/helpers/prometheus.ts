/** Checks for Prometheus text exposition (sys/metrics?format=prometheus). */
import assert from "node:assert/strict";

/** Family name of a sample line (histogram series share their base name). */
function family(sample: string): string {
  const name = sample.split(/[{ ]/, 1)[0]!;
  return name.replace(/_(bucket|sum|count)$/, "");
}

/** Checks the text format: each family has one HELP and one TYPE line before its samples. */
export function checkExposition(text: string): Map<string, { help: string; type: string }> {
  const seen = new Map<string, { help?: string; type?: string }>();
  for (const line of text.trimEnd().split("\n")) {
    const m = /^# (HELP|TYPE) (\S+) (.+)$/.exec(line);
    if (m) {
      const e = seen.get(m[2]!) ?? {};
      const k = m[1] === "HELP" ? "help" : "type";
      assert.equal(e[k], undefined, `second ${m[1]} line for ${m[2]}`);
      e[k] = m[3]!;
      seen.set(m[2]!, e);
      continue;
    }
    assert.ok(!line.startsWith("#"), `unexpected comment: ${line}`);
    const f = seen.has(family(line)) ? family(line) : line.split(/[{ ]/, 1)[0]!;
    const e = seen.get(f);
    assert.ok(e?.help, `no # HELP before ${line}`);
    assert.ok(e?.type, `no # TYPE before ${line}`);
  }
  return seen as Map<string, { help: string; type: string }>;
}
