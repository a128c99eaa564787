import assert from "node:assert/strict";
import { join } from "node:path";
import { ReloadError, runReload } from "../../agent/render/reload.ts";
import { TemplateJob } from "../../agent/render/renderer.ts";
import { templateJobFromConfig } from "../../agent/render/from_config.ts";
import { resolveOwner } from "../../agent/render/owner.ts";
import { parseAgentConfig } from "../../agent/config.ts";
import { parseTemplate, TemplateRenderError } from "../../agent/template/mod.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("agent_reload_", fn);
}

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

function readOr(file: string, dflt = ""): string {
  try {
    return Deno.readTextFileSync(file);
  } catch {
    return dflt;
  }
}

/** A long-running child that records each SIGHUP; resolves once its trap is installed. */
async function hupRecorder(marker: string) {
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `trap 'echo hup >> "$1"' HUP; echo ready; while true; do sleep 0.05; done`,
      "x",
      marker,
    ],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  assert.equal(new TextDecoder().decode(value), "ready\n");
  reader.releaseLock();
  return {
    pid: child.pid,
    async stop() {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel();
    },
  };
}

Deno.test("runReload() sends the signal to the pid in the pid file", async () => {
  await withDir(async (dir) => {
    const marker = join(dir, "hups");
    const rec = await hupRecorder(marker);
    try {
      const pidFile = join(dir, "app.pid");
      Deno.writeTextFileSync(pidFile, `${rec.pid}\n`);
      const r = await runReload({ signal: "HUP", pid_file: pidFile });
      assert.deepEqual(r, { kind: "signal", pid: rec.pid, signal: "HUP" });
      await waitFor(() => readOr(marker) === "hup\n");
      await runReload({ signal: "HUP", pid: rec.pid });
      await waitFor(() => readOr(marker) === "hup\nhup\n");
    } finally {
      await rec.stop();
    }
  });
});

Deno.test("runReload() refuses pid files that do not hold a plain positive pid", async () => {
  await withDir(async (dir) => {
    const pidFile = join(dir, "bad.pid");
    for (const text of ["", "abc", "-5", "12 13", "1", "0", "0x10", "99999999999"]) {
      Deno.writeTextFileSync(pidFile, text);
      await assert.rejects(runReload({ signal: "HUP", pid_file: pidFile }), ReloadError, text);
    }
    await assert.rejects(
      runReload({ signal: "HUP", pid_file: join(dir, "missing.pid") }),
      /Cannot read pid file/,
    );
    await assert.rejects(runReload({ signal: "HUP" }), /neither pid nor pid_file/);
    await assert.rejects(runReload({ signal: "KILL" as "HUP", pid: 4242 }), /not one of/);
  });
});

Deno.test("runReload() runs an argv without a shell and returns its exit code", async () => {
  await withDir(async (dir) => {
    const r = await runReload({
      command: ["sh", "-c", 'echo ran >> "$0"; exit 3', join(dir, "ran")],
    });
    assert.deepEqual(r, { kind: "command", code: 3, timedOut: false });
    assert.equal(readOr(join(dir, "ran")), "ran\n");
    // Shell syntax in an argument stays a literal file name.
    const ok = await runReload({ command: ["touch", join(dir, "a;touch b")] });
    assert.equal(ok.kind === "command" && ok.code, 0);
    assert.ok(Deno.statSync(join(dir, "a;touch b")).isFile);
    assert.throws(() => Deno.statSync(join(dir, "b")));
    assert.throws(() => Deno.statSync("b"));
  });
});

Deno.test("runReload() kills a command that outlives its timeout", async () => {
  const t0 = Date.now();
  const r = await runReload({ command: ["sleep", "10"], timeoutMs: 150 });
  assert.deepEqual(r, { kind: "command", code: 137, timedOut: true });
  assert.ok(Date.now() - t0 < 3000);
  await assert.rejects(runReload({ command: [] }), /argv is empty/);
  await assert.rejects(runReload({ command: ["/nonexistent/secrethub-x"] }), ReloadError);
});

Deno.test("TemplateJob.render() writes and reloads exactly once per real change", async () => {
  await withDir(async (dir) => {
    const dest = join(dir, "app.env");
    const count = join(dir, "reloads");
    const job = new TemplateJob({
      template: parseTemplate('PW={{ secret "secret/data/app" "pw" | env_quote }}\n'),
      destination: dest,
      reload: { command: ["sh", "-c", 'echo x >> "$0"', count] },
    });
    let data: Record<string, unknown> | undefined = { pw: "one" };
    const lookup = () => data;
    const reloads = () => readOr(count).length / 2;

    const r1 = await job.render(lookup);
    assert.equal(r1.changed, true);
    assert.equal(r1.error, undefined);
    assert.equal(Deno.readTextFileSync(dest), "PW='one'\n");
    assert.equal(Deno.statSync(dest).mode! & 0o777, 0o600);
    assert.equal(reloads(), 1);

    const past = new Date(Date.now() - 60_000);
    Deno.utimeSync(dest, past, past);
    const r2 = await job.render(lookup);
    assert.deepEqual(r2, { changed: false });
    assert.equal(Deno.statSync(dest).mtime!.getTime(), past.getTime());
    assert.equal(reloads(), 1);

    data = { pw: "two" };
    const burst = await Promise.all([job.render(lookup), job.render(lookup), job.render(lookup)]);
    assert.deepEqual(burst.map((b) => b.changed), [true, false, false]);
    assert.equal(reloads(), 2);

    // A missing secret is reported and the previous file stays as it was.
    data = undefined;
    const r3 = await job.render(lookup);
    assert.equal(r3.changed, false);
    assert.ok(r3.error instanceof TemplateRenderError);
    assert.equal(Deno.readTextFileSync(dest), "PW='two'\n");
    assert.equal(reloads(), 2);
  });
});

Deno.test("TemplateJob.render() reports a failing reload after writing the file", async () => {
  await withDir(async (dir) => {
    const dest = join(dir, "out");
    const job = new TemplateJob({
      template: parseTemplate('{{ secret "p" "v" }}'),
      destination: dest,
      mode: 0o640,
      reload: { command: ["false"] },
    });
    const r = await job.render(() => ({ v: "x" }));
    assert.equal(r.changed, true);
    assert.equal(r.reload?.kind === "command" && r.reload.code, 1);
    assert.match(r.error!.message, /exited with code 1/);
    assert.equal(Deno.readTextFileSync(dest), "x");
    assert.equal(Deno.statSync(dest).mode! & 0o777, 0o640);
  });
});

Deno.test("templateJobFromConfig() reads the source file and resolves numeric owners", async () => {
  await withDir(async (dir) => {
    const src = join(dir, "t.tpl");
    Deno.writeTextFileSync(src, 'U={{ secret "p" "u" }}');
    const cfg = parseAgentConfig(
      {
        core: { addresses: ["https://c:8200"], agent_addresses: ["wss://c:8201"] },
        auth: { role_id_file: "r", secret_id_file: "s" },
        state_dir: "st",
        listener: { socket: "s.sock" },
        templates: [{
          source: "t.tpl",
          destination: "out",
          mode: "0640",
          user: String(Deno.uid()),
          group: String(Deno.gid()),
        }],
      },
      dir,
      "h",
    );
    const job = await templateJobFromConfig(cfg.templates[0]!);
    assert.equal((await job.render(() => ({ u: "x" }))).changed, true);
    assert.equal(Deno.readTextFileSync(join(dir, "out")), "U=x");
    assert.equal(Deno.statSync(join(dir, "out")).mode! & 0o777, 0o640);
    await assert.rejects(
      resolveOwner({ user: "no-such-user-xyz" }),
      /Cannot find user "no-such-user-xyz"/,
    );
    assert.deepEqual(await resolveOwner({ user: "root", group: "root" }), { uid: 0, gid: 0 });
  });
});

Deno.test("TemplateJob.render() creates missing parent directories of the destination", async () => {
  await withDir(async (dir) => {
    const dest = join(dir, "a", "b", "app.env");
    const job = new TemplateJob({ template: parseTemplate("X=1\n"), destination: dest });
    const out = await job.render(() => undefined);
    assert.equal(out.error, undefined);
    assert.equal(out.changed, true);
    assert.equal(Deno.readTextFileSync(dest), "X=1\n");
    // 0755 as Vault Agent's create_dest_dirs, narrowed by the umask; the file stays 0600.
    const umask = Deno.umask();
    assert.equal(Deno.statSync(join(dir, "a")).mode! & 0o777, 0o755 & ~umask);
    assert.equal(Deno.statSync(join(dir, "a", "b")).mode! & 0o777, 0o755 & ~umask);
    assert.equal(Deno.statSync(dest).mode! & 0o777, 0o600);
  });
});
