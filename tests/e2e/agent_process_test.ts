/**
 * The agent as a process, without a core (it keeps retrying its bootstrap in the background):
 * signals (SIGHUP survives, SIGTERM in exec mode ends with the child's code), the state_dir lock
 * and the socket a second agent must not take, and one-line start-up errors.
 */
import assert from "node:assert/strict";
import { waitFor } from "../helpers/agent_env.ts";
import { MAIN } from "../helpers/server_process.ts";

interface Proc {
  child: Deno.ChildProcess;
  /** stderr so far (JSON log lines and any error line). */
  log(): string;
  /** Exit code and full stderr. */
  done: Promise<{ code: number; stderr: string }>;
}

function spawn(args: string[]): Proc {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "agent", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const dec = new TextDecoder();
  const read = child.stderr.pipeTo(
    new WritableStream({ write: (b) => void (text += dec.decode(b, { stream: true })) }),
  );
  return {
    child,
    log: () => text,
    done: (async () => {
      const st = await child.status;
      // An orphaned exec child keeps the pipe open (the defect this file tests): don't hang on it.
      await Promise.race([read.catch(() => {}), new Promise((r) => setTimeout(r, 2000))]);
      return { code: st.code, stderr: text };
    })(),
  };
}

/** A config that needs no core: addresses on a port nothing listens on (18470-18489 range). */
async function writeConfig(dir: string, extra: Record<string, unknown> = {}): Promise<string> {
  await Deno.writeTextFile(`${dir}/role_id`, "r");
  await Deno.writeTextFile(`${dir}/secret_id`, "s");
  const cfg = {
    core: { addresses: ["http://127.0.0.1:18479"], agent_addresses: ["wss://127.0.0.1:18479"] },
    auth: { role_id_file: "role_id", secret_id_file: "secret_id" },
    agent_id: "edge-p",
    state_dir: "state",
    listener: { socket: `${dir}/agent.sock` },
    link: { backoff_initial: "1s", backoff_max: "2s" },
    ...extra,
  };
  const file = `${dir}/agent-${crypto.randomUUID().slice(0, 6)}.json`;
  await Deno.writeTextFile(file, JSON.stringify(cfg));
  return file;
}

async function healthy(socket: string): Promise<boolean> {
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  try {
    const r = await fetch("http://agent/v1/agent/health", { client });
    await r.body?.cancel();
    return r.status === 200 || r.status === 503;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

/** The process's exit, or a failure when it is still running after `ms`. */
async function exited(p: Proc, ms = 20_000): Promise<{ code: number; stderr: string }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p.done, late]);
  } finally {
    clearTimeout(timer);
  }
}

const read = (f: string) => Deno.readTextFile(f).catch(() => "");
const alive = (pid: number) => {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
};

async function withDir(f: (dir: string, procs: Proc[]) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-agent-proc-" });
  const procs: Proc[] = [];
  try {
    await f(dir, procs);
  } catch (e) {
    // deno-lint-ignore no-console
    for (const p of procs) console.error("agent stderr:\n" + p.log().slice(-4000));
    throw e;
  } finally {
    for (const p of procs) {
      try {
        p.child.kill("SIGKILL");
      } catch { /* gone */ }
      await p.done;
    }
    // A child the agent failed to stop must not outlive the test.
    const childPid = Number((await read(`${dir}/child.pid`)).trim());
    if (childPid > 1 && alive(childPid)) Deno.kill(childPid, "SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** A child that records signals; TERM makes it exit 3. Its pid goes to `<dir>/child.pid`. */
const TRAPPING_CHILD = (dir: string) => [
  "bash",
  "-c",
  `echo $$ > "$0/child.pid"; trap 'echo hup >> "$0/child.sig"' HUP; ` +
  `trap 'echo term >> "$0/child.sig"; exit 3' TERM; while :; do sleep 0.05; done`,
  dir,
];

Deno.test("agent: SIGHUP is accepted and ignored; the agent keeps serving, SIGTERM then ends it cleanly", async () => {
  await withDir(async (dir, procs) => {
    const a = spawn(["-config", await writeConfig(dir)]);
    procs.push(a);
    await waitFor(() => healthy(`${dir}/agent.sock`), 20_000, "agent socket");
    a.child.kill("SIGHUP");
    await waitFor(
      () => Promise.resolve(a.log().includes("SIGHUP received")),
      5_000,
      "SIGHUP logged",
    );
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(await healthy(`${dir}/agent.sock`), "agent stopped serving after SIGHUP");
    a.child.kill("SIGTERM");
    const { code, stderr } = await exited(a);
    assert.equal(code, 0);
    assert.match(stderr, /"shutting down"/);
    await assert.rejects(Deno.lstat(`${dir}/agent.sock`), Deno.errors.NotFound);
  });
});

/** `agent exec` with the trapping child, once the child has written its pid. */
async function startExec(dir: string, procs: Proc[]) {
  const a = spawn(["exec", "-config", await writeConfig(dir), "--", ...TRAPPING_CHILD(dir)]);
  procs.push(a);
  await waitFor(async () => (await read(`${dir}/child.pid`)).trim() !== "", 20_000, "child");
  return { a, childPid: Number((await read(`${dir}/child.pid`)).trim()) };
}

Deno.test("agent exec: SIGTERM is forwarded; the agent waits for the child and exits with its code", async () => {
  await withDir(async (dir, procs) => {
    const { a, childPid } = await startExec(dir, procs);
    a.child.kill("SIGTERM");
    const { code } = await exited(a);
    assert.equal(code, 3, "the agent's code is the child's");
    assert.equal(await read(`${dir}/child.sig`), "term\n");
    assert.ok(!alive(childPid), "the child outlived the agent");
    await assert.rejects(Deno.lstat(`${dir}/agent.sock`), Deno.errors.NotFound);
  });
});

Deno.test("agent exec: SIGHUP is forwarded to the child and both keep running", async () => {
  await withDir(async (dir, procs) => {
    const { a, childPid } = await startExec(dir, procs);
    a.child.kill("SIGHUP");
    await waitFor(async () => (await read(`${dir}/child.sig`)) === "hup\n", 5_000, "child HUP");
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(alive(childPid), "SIGHUP ended the child");
    assert.ok(await healthy(`${dir}/agent.sock`), "SIGHUP ended the agent");
    a.child.kill("SIGTERM");
    assert.equal((await exited(a)).code, 3);
    assert.equal(await read(`${dir}/child.sig`), "hup\nterm\n");
  });
});

Deno.test("agent: a second agent on the same state_dir exits 1 naming the lock; the first keeps its socket", async () => {
  await withDir(async (dir, procs) => {
    const config = await writeConfig(dir);
    const first = spawn(["-config", config]);
    procs.push(first);
    await waitFor(() => healthy(`${dir}/agent.sock`), 20_000, "agent socket");
    const ino = (await Deno.lstat(`${dir}/agent.sock`)).ino;
    const second = spawn(["-config", config]);
    procs.push(second);
    const { code, stderr } = await exited(second);
    assert.equal(code, 1);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.match(
      stderr,
      new RegExp(
        `^Error: .*: state_dir: ${dir}/state is in use by another agent \\(${dir}/state/agent\\.lock is locked by pid ${first.child.pid}\\)\\n$`,
      ),
    );
    assert.equal((await Deno.lstat(`${dir}/agent.sock`)).ino, ino);
    assert.ok(await healthy(`${dir}/agent.sock`));
  });
});

Deno.test("agent: a socket another agent serves is refused and left in place", async () => {
  await withDir(async (dir, procs) => {
    const first = spawn(["-config", await writeConfig(dir)]);
    procs.push(first);
    await waitFor(() => healthy(`${dir}/agent.sock`), 20_000, "agent socket");
    const ino = (await Deno.lstat(`${dir}/agent.sock`)).ino;
    // Another state_dir, the same socket.
    const second = spawn(["-config", await writeConfig(dir, { state_dir: "state2" })]);
    procs.push(second);
    const { code, stderr } = await exited(second);
    assert.equal(code, 1);
    assert.match(
      stderr,
      new RegExp(`^Error: listener\\.socket: ${dir}/agent\\.sock: in use by another process`),
    );
    assert.equal((await Deno.lstat(`${dir}/agent.sock`)).ino, ino);
    assert.ok(await healthy(`${dir}/agent.sock`));
  });
});

/** Runs the agent expecting exit 1 with a single line on stderr; returns that line. */
async function failsWithOneLine(procs: Proc[], args: string[]): Promise<string> {
  const p = spawn(args);
  procs.push(p);
  const r = await exited(p);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  return r.stderr.trim();
}

Deno.test("agent: a template syntax error names the config file and templates[i].contents", async () => {
  await withDir(async (dir, procs) => {
    const file = await writeConfig(dir, {
      templates: [{ contents: "X={{ secret", destination: "out.env" }],
    });
    assert.match(
      await failsWithOneLine(procs, ["-config", file]),
      new RegExp(
        `^Error: ${file}: Invalid config key "templates\\[0\\]\\.contents": Invalid template at 1:3: `,
      ),
    );
  });
});

Deno.test("agent: a socket it cannot bind names listener.socket, the path and the reason", async () => {
  await withDir(async (dir, procs) => {
    const file = await writeConfig(dir, {
      listener: { socket: "/nonexistent-dir-secrethub/s.sock" },
    });
    assert.equal(
      await failsWithOneLine(procs, ["-config", file]),
      "Error: listener.socket: /nonexistent-dir-secrethub/s.sock: cannot listen: No such file or directory",
    );
  });
});

Deno.test("agent: a missing required key reads as core's: missing required config key", async () => {
  await withDir(async (dir, procs) => {
    const file = await writeConfig(dir);
    const cfg = JSON.parse(await Deno.readTextFile(file));
    delete cfg.auth;
    await Deno.writeTextFile(file, JSON.stringify(cfg));
    assert.equal(
      await failsWithOneLine(procs, ["-config", file]),
      `Error: ${file}: missing required config key "auth"`,
    );
  });
});

Deno.test("agent: -log-level with an unknown level is refused naming the flag and the levels", async () => {
  await withDir(async (dir, procs) => {
    const file = await writeConfig(dir);
    for (const level of ["bogus", "toString"]) {
      assert.equal(
        await failsWithOneLine(procs, ["-config", file, "-log-level", level]),
        `Error: -log-level: invalid log level "${level}" (one of debug, info, warn, error)`,
      );
    }
  });
});

Deno.test("agent: a template whose destination directory is missing is rendered into a new directory", async () => {
  await withDir(async (dir, procs) => {
    const dest = `${dir}/new/sub/out.env`;
    const a = spawn([
      "-config",
      await writeConfig(dir, {
        templates: [{ contents: "STATIC=1\n", destination: dest }],
      }),
    ]);
    procs.push(a);
    await waitFor(async () => (await read(dest)) === "STATIC=1\n", 20_000, "rendered file");
    assert.doesNotMatch(a.log(), /template not rendered/);
  });
});

Deno.test("agent exec: a command that cannot be started ends the agent with 127, logged", async () => {
  await withDir(async (dir, procs) => {
    const a = spawn(["exec", "-config", await writeConfig(dir), "--", `${dir}/no-such-program`]);
    procs.push(a);
    const { code, stderr } = await exited(a);
    assert.equal(code, 127, stderr);
    assert.match(stderr, /"exec: child could not be started"/);
    assert.match(stderr, new RegExp(`cannot start \\\\"${dir}/no-such-program\\\\"`));
    await assert.rejects(Deno.lstat(`${dir}/agent.sock`), Deno.errors.NotFound);
  });
});

Deno.test("agent exec: the command after -- stands in for exec.command; without either the key is missing", async () => {
  await withDir(async (dir, procs) => {
    const file = await writeConfig(dir, { exec: { restart_on_change: false } });
    const a = spawn(["exec", "-config", file, "--", ...TRAPPING_CHILD(dir)]);
    procs.push(a);
    await waitFor(async () => (await read(`${dir}/child.pid`)).trim() !== "", 20_000, "child");
    a.child.kill("SIGTERM");
    assert.equal((await exited(a)).code, 3);
    assert.equal(
      await failsWithOneLine(procs, ["-config", file]),
      `Error: ${file}: missing required config key "exec.command" ` +
        "(or give the command after --: agent exec -config FILE -- CMD ARGS)",
    );
  });
});
