import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Shipped source files (what main.ts can reach), tests excluded. */
async function* sources(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(ROOT + dir)) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory) yield* sources(rel);
    else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) yield rel;
  }
}

Deno.test("compile.sh embeds every worker module the program starts", async () => {
  const script = await Deno.readTextFile(ROOT + "compile.sh");
  const included = new Set([...script.matchAll(/--include ([\w./-]+)/g)].map((m) => m[1]));
  const workers: string[] = [];
  for (const dir of ["core", "engines", "lib", "agent", "cli"]) {
    for await (const file of sources(dir)) {
      const text = await Deno.readTextFile(ROOT + file);
      // Workers are started from `new URL("./x.ts", import.meta.url)`; deno compile does not
      // follow those, so a missing --include only shows when the binary opens its storage.
      for (const m of text.matchAll(/new URL\("\.\/([^"]+\.ts)", import\.meta\.url\)/g)) {
        workers.push(file.slice(0, file.lastIndexOf("/") + 1) + m[1]);
      }
    }
  }
  assert.ok(workers.length >= 2, `found ${workers}`);
  for (const w of workers) assert.ok(included.has(w), `compile.sh lacks --include ${w}`);
});
