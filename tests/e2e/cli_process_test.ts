/**
 * The CLI as a process: what only shows with a real stdout (a pipe), real environment variables,
 * real permissions and a peer on a real socket.
 */
import assert from "node:assert/strict";
import { initAndUnseal, MAIN, startServerProcess } from "../helpers/server_process.ts";

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** Kills a CLI that has not ended by then: a hang fails the test instead of stalling the run. */
const HANG_GUARD_MS = 30_000;

async function cli(
  env: Record<string, string>,
  args: string[],
  o: { permissions?: string[] } = {},
): Promise<Out> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...(o.permissions ?? ["-A"]), MAIN, ...args],
    env: { ...env, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let hung = false;
  const guard = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, HANG_GUARD_MS);
  try {
    const out = await child.output();
    assert.ok(!hung, `secrethub ${args.join(" ")} hung`);
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(guard);
  }
}

Deno.test("secrethub kv get -field=K > FILE gives back exactly the bytes stored", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-e2e-" });
  const srv = await startServerProcess(dir);
  try {
    const { token } = await initAndUnseal(srv.url);
    const env = { SECRETHUB_ADDR: srv.url, SECRETHUB_TOKEN: token, HOME: dir };
    const values = { plain: "p4ss", lines: "line 1\nline 2", newline: "ends in a newline\n" };
    for (const [name, value] of Object.entries(values)) {
      await Deno.writeTextFile(`${dir}/${name}`, value);
      const put = await cli(env, ["kv", "put", "secret/bin", `${name}=@${dir}/${name}`]);
      assert.equal(put.code, 0, put.stderr);
      const got = await cli(env, ["kv", "get", `-field=${name}`, "secret/bin"]);
      assert.equal(got.code, 0, got.stderr);
      assert.equal(got.stdout, value, name);
    }
    // Each put above left one key: the last one.
    const json = await cli(env, ["kv", "get", "-field=newline", "-format=json", "secret/bin"]);
    assert.equal(json.stdout, '"ends in a newline\\n"');
    const created = await cli(env, ["token", "create", "-field=token", "-ttl=1h"]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^hvs\.\S+$/);
  } finally {
    await srv.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

/**
 * A peer that accepts connections and never answers them (`headers`: answers the headers of
 * a 100-byte body and never sends the body).
 */
async function withSilentServer(
  mode: "nothing" | "headers",
  fn: (addr: string) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      held.push(conn);
      if (mode === "headers") {
        void conn.read(new Uint8Array(4096)).then(() =>
          conn.write(
            new TextEncoder().encode(
              "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
            ),
          )
        ).catch(() => {});
      }
    }
  })();
  try {
    await fn(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of held) {
      try {
        c.close();
      } catch { /* the CLI's end closed it first */ }
    }
  }
}

Deno.test("secrethub gives up on a server that never answers, after SECRETHUB_CLIENT_TIMEOUT", async () => {
  for (const mode of ["nothing", "headers"] as const) {
    await withSilentServer(mode, async (addr) => {
      const r = await cli({ SECRETHUB_ADDR: addr, SECRETHUB_CLIENT_TIMEOUT: "300ms" }, [
        "read",
        "sys/x",
      ]);
      assert.equal(r.code, 2, mode);
      assert.equal(r.stderr, `Error reading sys/x: GET ${addr}/v1/sys/x: no reply within 300ms\n`);
      // VAULT_CLIENT_TIMEOUT (seconds) when SECRETHUB_CLIENT_TIMEOUT is not set; status exits 1.
      const s = await cli({ SECRETHUB_ADDR: addr, VAULT_CLIENT_TIMEOUT: "1" }, ["status"]);
      assert.equal(s.code, 1, mode);
      assert.match(s.stderr, /^Error checking seal status: GET \S+: no reply within 1s\n$/);
    });
  }
  const bad = await cli({ SECRETHUB_CLIENT_TIMEOUT: "soon" }, ["status"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^Error: Invalid SECRETHUB_CLIENT_TIMEOUT "soon": expected seconds/);
});

Deno.test("secrethub server -help and agent -help print usage and exit 0", async () => {
  for (
    const [args, usage] of [
      [["server", "-help"], "Usage: secrethub server"],
      [["server", "-dev", "-h"], "Usage: secrethub server"],
      [["agent", "--help"], "Usage: secrethub agent"],
      [["agent", "exec", "-help"], "Usage: secrethub agent"],
    ] as const
  ) {
    const r = await cli({}, [...args]);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(r.stdout.startsWith(usage), r.stdout);
  }
});

Deno.test("secrethub CLI commands run without the FFI permission the server's storage needs", async () => {
  // Loading core (libSQL's native addon, its worker threads) needs --allow-ffi and
  // --allow-sys: a CLI command that imported core would die without them. Offline
  // `audit verify -db` is the one command that loads it.
  const permissions = ["--allow-env", "--allow-read", "--allow-net"];
  const v = await cli({}, ["version"], { permissions });
  assert.equal(v.code, 0, v.stderr);
  assert.equal(v.stdout, "SecretHub v0.1.0\n");
  const h = await cli({}, ["help", "kv", "get"], { permissions });
  assert.equal(h.code, 0, h.stderr);
});
