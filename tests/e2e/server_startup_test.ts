/**
 * `secrethub server -config` as a real process: one server per storage directory, failed starts
 * that say what is wrong in one line (and create no database), and the storage files' modes.
 */
import assert from "node:assert/strict";
import {
  call,
  freePort,
  initAndUnseal,
  MAIN,
  startServerProcess,
} from "../helpers/server_process.ts";

interface Exit {
  code: number;
  stderr: string;
}

/** Runs `server -config FILE` expecting it to exit on its own (killed after 20 s if it runs). */
function serverExit(config: string, env: Record<string, string> = {}): Promise<Exit> {
  return serverArgsExit(["-config", config], env);
}

async function serverArgsExit(args: string[], env: Record<string, string> = {}): Promise<Exit> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "server", ...args],
    env: { ...env, NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    const o = await child.output();
    // Deno's own notices (a package fetched into an incomplete node_modules) are not the server's.
    const stderr = new TextDecoder().decode(o.stderr).replace(/^Download \S+\n/gm, "");
    return { code: o.code, stderr };
  } finally {
    clearTimeout(timer);
  }
}

async function writeConfig(file: string, cfg: unknown): Promise<string> {
  await Deno.writeTextFile(file, JSON.stringify(cfg));
  return file;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** One line on stderr, starting `error: `, without a stack trace or Deno's "Uncaught". */
function assertOneLine(r: Exit, pattern: RegExp): void {
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /^error: [^\n]+\n$/, r.stderr);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /Uncaught|\n\s+at /);
}

Deno.test("a second server on the same storage refuses to start; after kill -9 of the first one can", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-lock-" });
  const storage = `${dir}/data`;
  let first = await startServerProcess(dir, freePort(), { storagePath: storage });
  try {
    const { token: root, key } = await initAndUnseal(first.url);
    let w = await call(first.url, "POST", "/v1/secret/data/a", { data: { v: "1" } }, root);
    assert.equal(w.status, 200);

    // Another config (another port) on the same storage path: refused before it serves anything.
    const port2 = freePort();
    const cfg2 = await writeConfig(`${dir}/second.json`, {
      listener: { address: `127.0.0.1:${port2}` },
      storage: { path: storage },
      agent_listener: { disable: true },
    });
    const second = await serverExit(cfg2);
    assert.notEqual(second.code, 0);
    assert.equal(second.stderr, `error: storage ${storage} is in use by another process\n`);
    await assert.rejects(fetch(`http://127.0.0.1:${port2}/v1/sys/health`));

    // The first one goes on serving, reads and writes.
    w = await call(first.url, "POST", "/v1/secret/data/b", { data: { v: "2" } }, root);
    assert.equal(w.status, 200, JSON.stringify(w.body));
    const r = await call(first.url, "GET", "/v1/secret/data/a", undefined, root);
    assert.equal(r.body.data.data.v, "1");

    // kill -9 leaves the lock file behind, but not the lock: a new server starts on it.
    await first.kill("SIGKILL");
    first = await startServerProcess(dir, freePort(), { storagePath: storage });
    await call(first.url, "PUT", "/v1/sys/unseal", { key });
    const b = await call(first.url, "GET", "/v1/secret/data/b", undefined, root);
    assert.equal(b.body.data.data.v, "2");
  } finally {
    await first.kill("SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("startup errors are one line naming the key or address, exit 1, and create no database", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-start-" });
  const storage = `${dir}/data`;
  const base = (listener: Record<string, unknown>) => ({
    listener,
    storage: { path: storage },
    agent_listener: { disable: true },
  });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
  const takenPort = (taken.addr as Deno.NetAddr).port;
  try {
    // Two self-signed pairs: the key of one does not match the certificate of the other.
    for (const n of ["a", "b"]) {
      const out = await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:P-256",
          "-nodes",
          "-days",
          "1",
          "-subj",
          "/CN=localhost",
          "-keyout",
          `${dir}/${n}.key`,
          "-out",
          `${dir}/${n}.crt`,
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      assert.equal(out.code, 0, "openssl req");
    }
    await Deno.writeTextFile(`${dir}/garbage.crt`, "this is not a certificate\n");
    const port = freePort();
    const cases: [string, Record<string, unknown>, RegExp][] = [
      [
        "missing certificate file",
        base({
          address: `127.0.0.1:${port}`,
          tls_cert_file: `${dir}/nope.crt`,
          tls_key_file: `${dir}/a.key`,
        }),
        new RegExp(`^error: listener\\.tls_cert_file: ${dir}/nope\\.crt: No such file`),
      ],
      [
        "missing key file",
        base({
          address: `127.0.0.1:${port}`,
          tls_cert_file: `${dir}/a.crt`,
          tls_key_file: `${dir}/nope.key`,
        }),
        new RegExp(`^error: listener\\.tls_key_file: ${dir}/nope\\.key: No such file`),
      ],
      [
        "garbage certificate",
        base({
          address: `127.0.0.1:${port}`,
          tls_cert_file: `${dir}/garbage.crt`,
          tls_key_file: `${dir}/a.key`,
        }),
        new RegExp(`^error: listener\\.tls_cert_file: ${dir}/garbage\\.crt: no PEM certificate`),
      ],
      [
        "key of another certificate",
        base({
          address: `127.0.0.1:${port}`,
          tls_cert_file: `${dir}/a.crt`,
          tls_key_file: `${dir}/b.key`,
        }),
        new RegExp(`^error: listener\\.tls_key_file: ${dir}/b\\.key: .*does not match`),
      ],
      [
        "port in use",
        base({ address: `127.0.0.1:${takenPort}` }),
        new RegExp(
          `^error: listener\\.address 127\\.0\\.0\\.1:${takenPort}: address already in use`,
        ),
      ],
      [
        "agent listener port in use",
        {
          ...base({ address: `127.0.0.1:${port}` }),
          agent_listener: { address: `127.0.0.1:${takenPort}` },
        },
        new RegExp(
          `^error: agent_listener\\.address 127\\.0\\.0\\.1:${takenPort}: address already in use`,
        ),
      ],
      [
        "not an address",
        base({ address: "notanaddress" }),
        /^error: \S+\.json: invalid config key "listener\.address": invalid listen address "notanaddress"/,
      ],
    ];
    for (const [name, cfg, pattern] of cases) {
      const file = await writeConfig(`${dir}/c.json`, cfg);
      const r = await serverExit(file);
      assertOneLine(r, pattern);
      assert.equal(await exists(storage), false, `${name}: ${storage} was created`);
    }

    // Neither is a new database left in a storage directory that already exists.
    await Deno.mkdir(storage);
    const file = await writeConfig(`${dir}/c.json`, base({ address: `127.0.0.1:${takenPort}` }));
    assertOneLine(await serverExit(file), /address already in use/);
    assert.deepEqual([...Deno.readDirSync(storage)], []);

    // The env override is named when it is the bad address.
    const env = await serverExit(file, { SECRETHUB_LISTEN_ADDRESS: "nope" });
    assertOneLine(env, /^error: SECRETHUB_LISTEN_ADDRESS: invalid listen address "nope"/);

    // -dev names its flags the same way.
    assertOneLine(
      await serverArgsExit(["-dev", "-dev-listen-address", `127.0.0.1:${takenPort}`]),
      new RegExp(
        `^error: -dev-listen-address 127\\.0\\.0\\.1:${takenPort}: address already in use`,
      ),
    );
    assertOneLine(
      await serverArgsExit([
        "-dev",
        "-dev-listen-address",
        `127.0.0.1:${freePort()}`,
        "-dev-agent-listen-address",
        `127.0.0.1:${takenPort}`,
      ]),
      new RegExp(`^error: -dev-agent-listen-address 127\\.0\\.0\\.1:${takenPort}: address already`),
    );
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("config errors name a missing or unknown key and the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-cfg-" });
  try {
    const missing = await writeConfig(`${dir}/missing.json`, { listener: {} });
    assertOneLine(
      await serverExit(missing),
      new RegExp(`^error: ${dir}/missing\\.json: missing required config key "storage"\\n$`),
    );
    const unknown = await writeConfig(`${dir}/unknown.json`, {
      listener: {},
      storage: { path: `${dir}/data` },
      x: 1,
    });
    assertOneLine(
      await serverExit(unknown),
      new RegExp(`^error: ${dir}/unknown\\.json: unknown config key "x"\\n$`),
    );
    assertOneLine(
      await serverExit(`${dir}/absent.json`),
      new RegExp(`^error: config file ${dir}/absent\\.json: No such file or directory\\n$`),
    );
    assert.equal(await exists(`${dir}/data`), false);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("the storage directory is 0700 and the database, WAL, SHM and lock files 0600", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-modes-" });
  // Created by the server, two levels deep, under a umask that would give 0755/0644.
  const storage = `${dir}/var/secrethub`;
  const srv = await startServerProcess(dir, freePort(), { storagePath: storage });
  try {
    const { token: root } = await initAndUnseal(srv.url);
    const w = await call(
      srv.url,
      "POST",
      "/v1/secret/data/app",
      { data: { password: "p" } },
      root,
    );
    assert.equal(w.status, 200);
    const mode = (p: string) => (Deno.statSync(p).mode! & 0o777).toString(8);
    assert.equal(mode(storage), "700");
    for (const f of ["secrethub.db", "secrethub.db-wal", "secrethub.db-shm", "secrethub.lock"]) {
      assert.equal(mode(`${storage}/${f}`), "600", f);
    }
  } finally {
    await srv.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("an agent listener port in use at unseal does not end the server", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-agentport-" });
  const agentPort = freePort();
  const srv = await startServerProcess(dir, freePort(), { agentPort });
  // Taken after the start-up check (which a port taken before start fails), before unseal.
  const taken = Deno.listen({ hostname: "127.0.0.1", port: agentPort });
  let exited: Deno.CommandStatus | null = null;
  void srv.child.status.then((s) => exited = s);
  try {
    await initAndUnseal(srv.url); // unsealed: the helper checks sealed is false
    // The listener's bind error was an uncaught "error" event that ended the process at once.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(exited, null);
    const h = await call(srv.url, "GET", "/v1/sys/health");
    assert.equal(h.body.sealed, false);
  } finally {
    taken.close();
    await srv.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("log level: an unknown one is a startup error from the flag, env or file; the flag beats the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const cfg = (extra: Record<string, unknown> = {}) =>
      writeConfig(`${dir}/c.json`, {
        listener: { address: `127.0.0.1:${freePort()}` },
        storage: { path: `${dir}/data` },
        agent_listener: { disable: true },
        ...extra,
      });
    assertOneLine(
      await serverArgsExit(["-log-level=bogus", "-config", await cfg()]),
      /-log-level: invalid log level "bogus" \(one of debug, info, warn, error\)/,
    );
    // Prototype names are not levels either.
    assertOneLine(
      await serverExit(await cfg(), { SECRETHUB_LOG_LEVEL: "constructor" }),
      /SECRETHUB_LOG_LEVEL: invalid log level "constructor"/,
    );
    assertOneLine(
      await serverArgsExit(["-dev", "-log-level=toString"]),
      /invalid log level "toString"/,
    );
    assertOneLine(await serverExit(await cfg({ log_level: "loud" })), /log_level/);
    // The config says error (no info lines); the flag asks for info and wins: "listening" shows.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "server",
        "-log-level=info",
        "-config",
        await cfg({
          log_level: "error",
        }),
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let seen = "";
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    const deadline = setTimeout(() => child.kill("SIGKILL"), 20_000);
    try {
      while (!seen.includes('"@message":"listening"')) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += value;
      }
    } finally {
      clearTimeout(deadline);
      child.kill("SIGTERM");
      await reader.cancel().catch(() => {});
      await child.status;
    }
    assert.match(seen, /"@level":"info","@message":"listening"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
