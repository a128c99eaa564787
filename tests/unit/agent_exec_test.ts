import assert from "node:assert/strict";
import { join } from "node:path";
import { buildExecEnv, ExecEnvError } from "../../agent/exec/env.ts";
import { Supervisor } from "../../agent/exec/supervisor.ts";
import { parseAgentConfig } from "../../agent/config.ts";
import { execHookFor } from "../../agent/exec_runner.ts";
import { withTempDir } from "../helpers/temp_dir.ts";

const SECRETS: Record<string, Record<string, unknown>> = {
  "secret/data/db": { password: "pw1", port: 5432 },
  "secret/data/app": { "api-key": "k", token: "t", nested: { a: 1 } },
  "secret/data/clash": { API_KEY: "x" },
};
const lookup = (p: string) => SECRETS[p];

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  return withTempDir("agent_exec_", fn);
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

function lines(file: string): string[] {
  try {
    return Deno.readTextFileSync(file).split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

Deno.test("buildExecEnv() maps explicit names and the prefix scheme", () => {
  const env = buildExecEnv({
    env: {
      DB_PASSWORD: { path: "secret/data/db", field: "password" },
      APP_SECRETS__TOKEN: { path: "secret/data/db", field: "port" },
    },
    env_prefix: "APP_SECRETS__",
    prefix_paths: ["secret/data/app"],
  }, lookup);
  assert.deepEqual(env, {
    DB_PASSWORD: "pw1",
    APP_SECRETS__API_KEY: "k",
    APP_SECRETS__TOKEN: "5432", // explicit wins over the prefix scheme
    APP_SECRETS__NESTED: '{"a":1}',
  });
});

Deno.test("buildExecEnv() refuses missing secrets and colliding names", () => {
  assert.throws(
    () => buildExecEnv({ env: { X: { path: "secret/data/db", field: "nope" } } }, lookup),
    {
      name: "ExecEnvError",
      message:
        'Cannot build environment: field "nope" not found in secret "secret/data/db" (for X)',
    },
  );
  assert.throws(
    () => buildExecEnv({ env: { X: { path: "gone", field: "f" } } }, lookup),
    ExecEnvError,
  );
  assert.throws(
    () =>
      buildExecEnv({
        env: {},
        env_prefix: "P_",
        prefix_paths: ["secret/data/app", "secret/data/clash"],
      }, lookup),
    /"P_API_KEY" comes from both/,
  );
});

Deno.test("Supervisor restarts the child only when the secret environment changes", async () => {
  await withDir(async (dir) => {
    const out = join(dir, "seen");
    const sup = new Supervisor({
      command: ["bash", "-c", 'echo "$X $BASE" >> "$0"; exec sleep 30', out],
      baseEnv: { BASE: "b", PATH: Deno.env.get("PATH")! },
      stopTimeoutMs: 2000,
    });
    try {
      assert.equal(await sup.start({ X: "one" }), "started");
      await waitFor(() => lines(out).length === 1);
      const pid1 = sup.pid;
      assert.equal(await sup.update({ X: "one" }), "unchanged");
      assert.equal(sup.pid, pid1);
      assert.equal(await sup.update({ X: "two" }), "restarted");
      await waitFor(() => lines(out).length === 2);
      assert.deepEqual(lines(out), ["one b", "two b"]);
      assert.notEqual(sup.pid, pid1);
      // The old child is really gone.
      assert.throws(() => Deno.kill(pid1!, "SIGCONT"));
    } finally {
      const st = await sup.stop();
      assert.equal(st?.signal, "SIGTERM");
    }
    assert.deepEqual(await sup.exited, { code: 143, signal: "SIGTERM" });
  });
});

Deno.test("Supervisor kills a child that ignores SIGTERM after the grace period", async () => {
  await withDir(async (dir) => {
    const out = join(dir, "seen");
    const sup = new Supervisor({
      command: [
        "bash",
        "-c",
        `trap '' TERM; echo "$X" >> "$0"; while true; do sleep 0.05; done`,
        out,
      ],
      stopTimeoutMs: 200,
    });
    try {
      await sup.start({ X: "a" });
      await waitFor(() => lines(out).length === 1);
      const t0 = Date.now();
      assert.equal(await sup.update({ X: "b" }), "restarted");
      assert.ok(Date.now() - t0 >= 150);
      await waitFor(() => lines(out).length === 2);
    } finally {
      const st = await sup.stop();
      assert.equal(st?.signal, "SIGKILL");
    }
  });
});

Deno.test("Supervisor with restart_on_change=false keeps the running child", async () => {
  await withDir(async (dir) => {
    const out = join(dir, "seen");
    const sup = new Supervisor({
      command: ["bash", "-c", 'echo "$X" >> "$0"; exec sleep 30', out],
      restartOnChange: false,
    });
    try {
      await sup.start({ X: "a" });
      await waitFor(() => lines(out).length === 1);
      const pid = sup.pid;
      assert.equal(await sup.update({ X: "b" }), "ignored");
      assert.equal(sup.pid, pid);
    } finally {
      await sup.stop();
    }
  });
});

/** Logs "ready" once its HUP trap is set, "hup <$X>" on each HUP; $X is its start-up value. */
const HUP_CHILD = `trap 'echo "hup $X" >> "$0"' HUP; echo "ready $X" >> "$0"; ` +
  `while true; do sleep 0.05; done`;

Deno.test("Supervisor with a reload signal signals the child instead of restarting it", async () => {
  await withDir(async (dir) => {
    const out = join(dir, "seen");
    const sup = new Supervisor({
      command: ["bash", "-c", HUP_CHILD, out],
      reloadSignal: "SIGHUP",
      stopTimeoutMs: 2000,
    });
    try {
      await sup.start({ X: "a" });
      await waitFor(() => lines(out).length === 1);
      const pid = sup.pid;
      assert.equal(await sup.update({ X: "b" }), "signalled");
      await waitFor(() => lines(out).length === 2);
      // Same process, same (old) environment: only the signal tells it something changed.
      assert.equal(sup.pid, pid);
      assert.deepEqual(lines(out), ["ready a", "hup a"]);
      // The signalled environment counts as current: no second signal for the same values.
      assert.equal(await sup.update({ X: "b" }), "unchanged");
      assert.equal(await sup.update({ X: "c" }), "signalled");
      await waitFor(() => lines(out).length === 3);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(lines(out), ["ready a", "hup a", "hup a"]);
    } finally {
      await sup.stop();
    }
  });
});

/** The least config an agent in `dir` parses, with `extra` keys. */
function minimalConfig(dir: string, extra: Record<string, unknown> = {}) {
  return parseAgentConfig(
    {
      core: { addresses: ["https://core:8200"], agent_addresses: ["wss://core:8201"] },
      auth: { role_id_file: "r", secret_id_file: "s" },
      agent_id: "a",
      state_dir: "st",
      listener: { socket: "a.sock" },
      ...extra,
    },
    dir,
  );
}

/** The exec hook built from a parsed config, as `agent exec` builds it. */
function hookFromConfig(exec: Record<string, unknown>) {
  const cfg = parseAgentConfig(
    {
      core: { addresses: ["https://core:8200"], agent_addresses: ["wss://core:8201"] },
      auth: { role_id_file: "role_id", secret_id_file: "secret_id" },
      state_dir: "state",
      listener: { socket: "agent.sock" },
      exec: { env: { X: "secret/data/x#v" }, ...exec },
    },
    "/cfg",
    "host",
  );
  const logged: string[] = [];
  const hook = execHookFor(cfg, undefined, (_l, msg) => logged.push(msg));
  const secret = (v: string) => (p: string) => p === "secret/data/x" ? { v } : undefined;
  return { hook, logged, secret };
}

Deno.test("agent exec: reload_signal in the config signals the child on a change", async () => {
  await withDir(async (dir) => {
    const out = join(dir, "seen");
    const { hook, logged, secret } = hookFromConfig({
      command: ["bash", "-c", HUP_CHILD, out],
      reload_signal: "HUP",
    });
    try {
      await hook.start(secret("one"));
      await waitFor(() => lines(out).length === 1);
      await hook.update(secret("two"));
      await waitFor(() => lines(out).length === 2);
      assert.deepEqual(lines(out), ["ready one", "hup one"]);
      assert.deepEqual(logged, ["exec: child started", "exec: child signalled"]);
    } finally {
      await hook.stop();
    }
  });
});

Deno.test("agent exec: restart_on_change true in the config still restarts the child", async () => {
  await withDir(async (dir) => {
    const out = join(dir, "seen");
    const { hook, logged, secret } = hookFromConfig({
      command: ["bash", "-c", HUP_CHILD, out],
      restart_on_change: true,
    });
    try {
      await hook.start(secret("one"));
      await waitFor(() => lines(out).length === 1);
      await hook.update(secret("two"));
      await waitFor(() => lines(out).length === 2);
      assert.deepEqual(lines(out), ["ready one", "ready two"]);
      assert.deepEqual(logged, ["exec: child started", "exec: child restarted"]);
    } finally {
      await hook.stop();
    }
  });
});

Deno.test("Supervisor reports the exit code of a child that ends by itself", async () => {
  const sup = new Supervisor({ command: ["bash", "-c", "exit 7"] });
  await sup.start({});
  assert.deepEqual(await sup.exited, { code: 7, signal: null });
  assert.equal(sup.pid, undefined);
});

Deno.test("Supervisor.forwardSignals() passes SIGTERM on to the child", async () => {
  await withDir(async (dir) => {
    const out = join(dir, "sig");
    const sup = new Supervisor({
      command: [
        "bash",
        "-c",
        `trap 'echo term >> "$0"; exit 0' TERM; echo ready >> "$0"; while true; do sleep 0.05; done`,
        out,
      ],
    });
    const unforward = sup.forwardSignals(["SIGTERM"]);
    try {
      await sup.start({});
      await waitFor(() => lines(out).length === 1);
      // The agent itself receives SIGTERM; the listener keeps this test process alive.
      Deno.kill(Deno.pid, "SIGTERM");
      assert.deepEqual(await sup.exited, { code: 0, signal: null });
      assert.deepEqual(lines(out), ["ready", "term"]);
    } finally {
      unforward();
      await sup.stop();
    }
  });
});

Deno.test("Supervisor.stop() is final: a secret change during shutdown starts no new child", async () => {
  await withDir(async (dir) => {
    const out = join(dir, "starts");
    const sup = new Supervisor({
      command: ["bash", "-c", `echo "$V" >> "$0"; exec sleep 30`, out],
      stopTimeoutMs: 2000,
    });
    await sup.start({ V: "1" });
    await waitFor(() => lines(out).length === 1);
    await sup.stop();
    assert.equal(await sup.update({ V: "2" }), "ignored");
    assert.equal(sup.pid, undefined);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(lines(out), ["1"]);
  });
});

Deno.test("execHookFor().terminate() forwards the signal and returns the child's own exit code", async () => {
  await withDir(async (dir) => {
    const out = join(dir, "sig");
    const cfg = minimalConfig(dir);
    const hook = execHookFor(cfg, [
      "bash",
      "-c",
      `trap 'echo term >> "$0"; exit 3' TERM; echo ready >> "$0"; while true; do sleep 0.05; done`,
      out,
    ], () => {});
    await hook.start(() => undefined);
    await waitFor(() => lines(out).length === 1);
    assert.equal(await hook.terminate("SIGTERM"), 3);
    assert.deepEqual(lines(out), ["ready", "term"]);
  });
});

Deno.test("Supervisor ends with 127 when the program does not exist and 126 when it cannot run", async () => {
  await withDir(async (dir) => {
    const notExec = join(dir, "not-executable");
    Deno.writeTextFileSync(notExec, "#!/bin/sh\nexit 0\n");
    Deno.chmodSync(notExec, 0o644);
    for (const [cmd, code] of [[join(dir, "no-such-program"), 127], [notExec, 126]] as const) {
      const sup = new Supervisor({ command: [cmd, "--flag"] });
      assert.equal(await sup.start({ X: "1" }), "failed");
      const e = await sup.exited;
      assert.equal(e.code, code, cmd);
      assert.equal(e.signal, null);
      assert.ok(e.spawnError?.startsWith(`cannot start "${cmd}": `), e.spawnError);
      // Over: a later secret change does not try again.
      assert.equal(await sup.update({ X: "2" }), "ignored");
      assert.equal(sup.pid, undefined);
    }
  });
});

Deno.test("execHookFor() logs a child that cannot start and exits with 127", async () => {
  await withDir(async (dir) => {
    const cfg = minimalConfig(dir, { exec: { env: { DB: "secret/data/db#password" } } });
    const logs: [string, string, Record<string, unknown> | undefined][] = [];
    const missing = join(dir, "no-such-program");
    const hook = execHookFor(cfg, [missing], (l, m, f) => logs.push([l, m, f]));
    // As in the agent: the child waits for its secret, which a later update (a push) brings.
    await hook.start(() => undefined);
    await hook.update(lookup);
    assert.equal(await hook.exited, 127);
    const failed = logs.filter(([, m]) => m === "exec: child could not be started");
    assert.equal(failed.length, 1, JSON.stringify(logs));
    assert.equal(failed[0]![0], "error");
    assert.equal(failed[0]![2]?.code, 127);
    assert.match(String(failed[0]![2]?.error), new RegExp(`cannot start "${missing}"`));
    assert.equal(await hook.terminate("SIGTERM"), 127);
  });
});
