/**
 * Someone who may write a directory the agent writes into: the moment a name appears there it is
 * moved aside and made a symlink to a victim file. inotify makes this fast enough to land between
 * a file's creation and any later step that goes by its name, so a chmod/chown by path would
 * reach the victim.
 */
import assert from "node:assert/strict";
import { join } from "node:path";

const SWAPPER = `
const [dir, victim, only, keep] = Deno.args;
const w = Deno.watchFs(dir, { recursive: false });
await Deno.stdout.write(new TextEncoder().encode("ready\\n"));
for await (const ev of w) {
  if (ev.kind !== "create") continue;
  for (const p of ev.paths) {
    if (p === keep || p === victim || p.endsWith(".moved")) continue;
    if (only && !p.includes(only)) continue;
    try {
      Deno.renameSync(p, p + ".moved");
      Deno.symlinkSync(victim, p);
    } catch { /* the writer got there first */ }
  }
}
`;

export interface SymlinkSwapper {
  /** The directory (mode 0777) whose new names get swapped. */
  out: string;
  /** A 0600 file whose mode, owner and content must survive. */
  victim: string;
  before: Deno.FileInfo;
  stop(): Promise<void>;
}

/**
 * Starts the swapper on `dir/<outName>` and waits until it watches. `only`: swap only names
 * containing it; `keep`: a name never swapped.
 */
export async function startSymlinkSwapper(
  dir: string,
  outName: string,
  opts: { only?: string; keep?: (out: string) => string } = {},
): Promise<SymlinkSwapper> {
  const victim = join(dir, "victim");
  Deno.writeTextFileSync(victim, "not yours");
  Deno.chmodSync(victim, 0o600);
  const before = Deno.statSync(victim);
  const out = join(dir, outName);
  Deno.mkdirSync(out);
  Deno.chmodSync(out, 0o777);
  const script = join(dir, "swapper.ts");
  Deno.writeTextFileSync(script, SWAPPER);
  const swapper = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", script, out, victim, opts.only ?? "", opts.keep?.(out) ?? ""],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = swapper.stdout.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "ready\n");
  reader.releaseLock();
  return {
    out,
    victim,
    before,
    stop: async () => {
      swapper.kill("SIGKILL");
      await swapper.status;
      await swapper.stdout.cancel().catch(() => {});
    },
  };
}
