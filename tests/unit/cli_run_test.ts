import assert from "node:assert/strict";
import { type CliOptions, type OfflineVerifyOptions, runCli } from "../../cli/mod.ts";

type Reply = [status: number, body?: unknown];
interface Seen {
  method: string;
  path: string;
  token: string | null;
  body: string;
}

/** A throwaway HTTP server answering "METHOD /v1/path" from a table, recording every request. */
async function withServer(
  routes: Record<string, Reply>,
  fn: (addr: string, seen: Seen[]) => Promise<void>,
): Promise<void> {
  const seen: Seen[] = [];
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
    async (req) => {
      const u = new URL(req.url);
      seen.push({
        method: req.method,
        path: u.pathname + u.search,
        token: req.headers.get("x-vault-token"),
        body: await req.text(),
      });
      const [status, body] = routes[`${req.method} ${u.pathname}`] ?? [404, { errors: [] }];
      return body === undefined ? new Response(null, { status }) : Response.json(body, { status });
    },
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`, seen);
  } finally {
    ac.abort();
    await server.finished;
  }
}

async function run(argv: string[], opts: CliOptions = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, {
    stdin: "",
    ...opts,
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const SEALED = { type: "shamir", initialized: true, sealed: true, t: 3, n: 5, progress: 1 };
const UNSEALED = { ...SEALED, sealed: false, progress: 0 };

Deno.test("runCli() status exits 0 unsealed, 2 sealed, 1 when unreachable", async () => {
  for (const [state, code] of [[UNSEALED, 0], [SEALED, 2]] as const) {
    await withServer({ "GET /v1/sys/seal-status": [200, state] }, async (addr) => {
      const r = await run(["status"], { env: { SECRETHUB_ADDR: addr } });
      assert.equal(r.code, code);
      assert.match(r.out, /^Sealed\s+(true|false)$/m);
    });
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const r = await run(["status"], { env: { SECRETHUB_ADDR: `http://127.0.0.1:${port}` } });
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    /^Error checking seal status: GET http:\/\/127\.0\.0\.1:\d+\/v1\/sys\/seal-status/,
  );
});

Deno.test("runCli() operator init -format=json prints Vault's key names", async () => {
  const init = { keys: ["aa", "bb"], keys_base64: ["qg==", "uw=="], root_token: "hvs.r" };
  await withServer({ "PUT /v1/sys/init": [200, init] }, async (addr, seen) => {
    const r = await run(
      ["operator", "init", "-key-shares=2", "-key-threshold", "2", "-format=json"],
      { env: { SECRETHUB_ADDR: addr } },
    );
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(r.out), {
      unseal_keys_b64: ["qg==", "uw=="],
      unseal_keys_hex: ["aa", "bb"],
      unseal_shares: 2,
      unseal_threshold: 2,
      root_token: "hvs.r",
    });
    assert.deepEqual(JSON.parse(seen[0]!.body), { secret_shares: 2, secret_threshold: 2 });
  });
});

Deno.test("runCli() operator unseal reads the key from piped stdin", async () => {
  await withServer({ "PUT /v1/sys/unseal": [200, UNSEALED] }, async (addr, seen) => {
    const r = await run(["operator", "unseal"], { env: { SECRETHUB_ADDR: addr }, stdin: "k1\n" });
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(seen[0]!.body), { key: "k1" });
  });
});

Deno.test("runCli() reports API errors with status and errors, exit 2", async () => {
  const routes: Record<string, Reply> = {
    "GET /v1/secret/x": [403, { errors: ["permission denied", "invalid token"] }],
  };
  await withServer(routes, async (addr) => {
    const r = await run(["read", "secret/x"], { env: { SECRETHUB_ADDR: addr } });
    assert.equal(r.code, 2);
    assert.match(r.err, /^Error reading secret\/x: permission denied; invalid token \(Code: 403, /);
    assert.equal(r.out, "");
  });
});

Deno.test("runCli() usage errors exit 1 without contacting the server", async () => {
  for (const argv of [["token", "create", "-nope"], ["kv", "put"], ["policy"]]) {
    const r = await run(argv, { env: { SECRETHUB_ADDR: "http://127.0.0.1:9" } });
    assert.equal(r.code, 1, argv.join(" "));
    assert.notEqual(r.err, "");
  }
  // As Vault: an unknown command exits 127, after its name and the usage.
  const bogus = await run(["bogus"], { env: { SECRETHUB_ADDR: "http://127.0.0.1:9" } });
  assert.equal(bogus.code, 127);
  assert.match(bogus.err, /^Error: unknown command "bogus"\n\nUsage: secrethub <command>/);
  const bad = await run(["status", "-format=yaml"], { env: {} });
  assert.equal(bad.code, 1);
  assert.match(bad.err, /Invalid output format "yaml"/);
});

Deno.test("runCli() sends VAULT_TOKEN only together with VAULT_ADDR", async () => {
  const routes: Record<string, Reply> = { "GET /v1/auth/token/lookup-self": [200, { data: {} }] };
  await withServer(routes, async (addr, seen) => {
    const home = await Deno.makeTempDir();
    try {
      await run(["token", "lookup"], { env: { VAULT_ADDR: addr, VAULT_TOKEN: "v", HOME: home } });
      await run(["token", "lookup"], {
        env: { SECRETHUB_ADDR: addr, VAULT_ADDR: addr, VAULT_TOKEN: "v", HOME: home },
      });
      assert.deepEqual(seen.map((s) => s.token), ["v", null]);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  });
});

Deno.test("runCli() login verifies the token, then stores it for later commands", async () => {
  const lookup = { data: { accessor: "acc", ttl: 0, policies: ["root"], renewable: false } };
  await withServer({ "GET /v1/auth/token/lookup-self": [200, lookup] }, async (addr, seen) => {
    const home = await Deno.makeTempDir();
    try {
      const env = { SECRETHUB_ADDR: addr, HOME: home };
      const r = await run(["login", "-field=token_accessor", "hvs.t"], { env });
      assert.equal(r.code, 0);
      assert.equal(r.out, "acc");
      assert.equal(await Deno.readTextFile(`${home}/.secrethub-token`), "hvs.t");
      await run(["token", "lookup"], { env });
      assert.deepEqual(seen.map((s) => s.token), ["hvs.t", "hvs.t"]);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  });
});

Deno.test("runCli() kv put builds a KV v2 write from K=V, K=- and -cas", async () => {
  const routes: Record<string, Reply> = {
    "GET /v1/sys/internal/ui/mounts/secret/app": [200, {
      data: { path: "secret/", type: "kv", options: { version: "2" } },
    }],
    "POST /v1/secret/data/app": [200, { data: { version: 2, deletion_time: "" } }],
  };
  await withServer(routes, async (addr, seen) => {
    const r = await run(["kv", "put", "-cas=1", "secret/app", "a=1", "b=-", "-field=version"], {
      env: { SECRETHUB_ADDR: addr, SECRETHUB_TOKEN: "t" },
      stdin: "from-stdin",
    });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "2");
    const write = seen.find((s) => s.method === "POST")!;
    assert.deepEqual(JSON.parse(write.body), {
      data: { a: "1", b: "from-stdin" },
      options: { cas: 1 },
    });
  });
});

Deno.test("runCli() kv patch of a missing secret says no value is there, exit 2 (Vault's CLI)", async () => {
  const routes: Record<string, Reply> = {
    "GET /v1/sys/internal/ui/mounts/secret/nope": [200, {
      data: { path: "secret/", type: "kv", options: { version: "2" } },
    }],
    "PATCH /v1/secret/data/nope": [404, { errors: [] }],
  };
  await withServer(routes, async (addr) => {
    const r = await run(["kv", "patch", "secret/nope", "a=1"], {
      env: { SECRETHUB_ADDR: addr, SECRETHUB_TOKEN: "t" },
    });
    assert.equal(r.code, 2, r.err);
    assert.equal(r.err, "No value found at secret/data/nope");
  });
});

Deno.test("runCli() kv list sends LIST to the metadata path of -mount", async () => {
  const routes: Record<string, Reply> = {
    "LIST /v1/kv/metadata/team/": [200, { data: { keys: ["a", "b/"] } }],
  };
  await withServer(routes, async (addr, seen) => {
    const r = await run(["kv", "list", "-mount=kv", "team", "-format=json"], {
      env: { SECRETHUB_ADDR: addr },
    });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), ["a", "b/"]);
    assert.equal(seen.at(-1)!.method, "LIST");
  });
});

Deno.test("runCli() audit verify exits 1 when the server reports a broken chain", async () => {
  const routes: Record<string, Reply> = {
    "GET /v1/sys/audit/verify": [200, {
      data: { ok: false, checked: 9, first_bad_seq: 7, reason: "hash mismatch" },
    }],
  };
  await withServer(routes, async (addr) => {
    const r = await run(["audit", "verify"], { env: { SECRETHUB_ADDR: addr } });
    assert.equal(r.code, 1);
    assert.match(r.out, /first_bad_seq\s+7/);
  });
});

Deno.test("runCli() audit verify -db hands offline mode to the injected hook", async () => {
  let got: OfflineVerifyOptions | undefined;
  const r = await run(
    ["audit", "verify", "-db", "audit.db", "-unseal-key=k1", "-unseal-key", "k2", "-format=json"],
    {
      env: {},
      offlineVerify: (o) => {
        got = o;
        o.stdout("checked");
        return Promise.resolve(3);
      },
    },
  );
  assert.equal(r.code, 3);
  assert.equal(r.out, "checked");
  assert.equal(got?.db, "audit.db");
  assert.deepEqual(got?.unsealKeys, ["k1", "k2"]);
  assert.equal(got?.keyFile, undefined);
  assert.equal(got?.format, "json");

  const missing = await run(["audit", "verify", "-db", "audit.db"], { env: {} });
  assert.equal(missing.code, 1);
  assert.match(missing.err, /not available/);
});

Deno.test("runCli() help lists every command; version prints the version", async () => {
  const h = await run(["help"]);
  assert.equal(h.code, 0);
  for (const name of ["status", "operator init", "kv metadata put", "audit verify", "write"]) {
    assert.ok(h.out.includes(`  ${name}`), name);
  }
  const v = await run(["version"]);
  assert.deepEqual([v.code, v.out], [0, "SecretHub v0.1.0"]);
  for (const argv of [["version", "-format=json"], ["-version", "-format", "json"]]) {
    const j = await run(argv);
    assert.equal(j.code, 0, argv.join(" "));
    assert.deepEqual(JSON.parse(j.out), { name: "SecretHub", version: "0.1.0" });
  }
  const env = await run(["version"], { env: { SECRETHUB_FORMAT: "json" } });
  assert.equal(JSON.parse(env.out).version, "0.1.0");
});

Deno.test("runCli() an unknown subcommand of a group is named before the group's usage, exit 1", async () => {
  for (
    const [argv, word, group] of [
      [["kv", "frob", "x"], "frob", "kv"],
      [["kv", "metadata", "frob"], "frob", "kv metadata"],
      [["token", "frob", "-format=json"], "frob", "token"],
    ] as const
  ) {
    const r = await run([...argv], { env: { SECRETHUB_ADDR: "http://127.0.0.1:9" } });
    assert.equal(r.code, 1, argv.join(" "));
    assert.equal(r.out, "");
    assert.ok(
      r.err.startsWith(
        `Error: unknown subcommand "${word}"\n\nUsage: secrethub ${group} <subcommand>`,
      ),
      r.err,
    );
    assert.match(r.err, /^Subcommands:$/m);
  }
  // The group alone shows its usage without an error line (exit 1, as Vault); -help asks for it.
  const bare = await run(["kv"]);
  assert.equal(bare.code, 1);
  assert.match(bare.err, /^Usage: secrethub kv <subcommand>/);
  const help = await run(["kv", "-help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /^Usage: secrethub kv <subcommand>/);
});

Deno.test("runCli() write -format=json on a 204 prints no JSON null, and confirms on stderr", async () => {
  await withServer({ "PUT /v1/sys/policy/p": [204] }, async (addr) => {
    const env = { SECRETHUB_ADDR: addr, SECRETHUB_TOKEN: "t" };
    const r = await run(["write", "-format=json", "sys/policy/p", "policy=x"], { env });
    assert.equal(r.code, 0);
    assert.equal(r.out, "");
    assert.match(r.err, /^Success! Data written to: sys\/policy\/p$/);
    const t = await run(["write", "sys/policy/p", "policy=x"], { env });
    assert.equal(t.code, 0);
    assert.match(t.out, /^Success! Data written to: sys\/policy\/p$/);
  });
});

const V2_MOUNT: Reply = [200, { data: { path: "secret/", type: "kv", options: { version: "2" } } }];

Deno.test("runCli() never quotes @file or stdin contents that are not JSON", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/pw.txt`;
    await Deno.writeTextFile(file, "hunter2-supersecret");
    await withServer({ "GET /v1/sys/internal/ui/mounts/secret/leak": V2_MOUNT }, async (addr) => {
      const env = { SECRETHUB_ADDR: addr, SECRETHUB_TOKEN: "t" };
      const cases: [string[], string][] = [
        [["kv", "put", "secret/leak", `@${file}`], `@${file}`],
        [["write", "secret/data/leak", "-"], "-"],
      ];
      for (const [argv, source] of cases) {
        const r = await run(argv, { env, stdin: "tok-x-supersecret" });
        assert.equal(r.code, 1, argv.join(" "));
        assert.equal(
          r.err.split("\n")[0],
          `Error: Failed to parse JSON from ${source}: not valid JSON (expected an object)`,
        );
        assert.doesNotMatch(r.err, /hunter2|tok-x/);
      }
      // A value typed without its key is not echoed either.
      const r = await run(["kv", "put", "secret/leak", "a=1", "hunter2-supersecret"], { env });
      assert.equal(r.code, 1);
      assert.match(r.err, /invalid key\/value pair \(data argument 2\)/);
      assert.doesNotMatch(r.err, /hunter2/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs the CLI with stdout as a terminal or not, keeping lines and raw writes apart. */
async function runTty(argv: string[], env: Record<string, string>, terminal: boolean) {
  const lines: string[] = [];
  let raw = "";
  const code = await runCli(argv, {
    env,
    stdin: "",
    stdout: (t) => lines.push(t),
    stdoutRaw: (t) => raw += t,
    stdoutIsTerminal: () => terminal,
    stderr: () => {},
  });
  return { code, lines, raw };
}

Deno.test("runCli() -field adds no newline when stdout is not a terminal (Vault's PrintRaw)", async () => {
  const routes: Record<string, Reply> = {
    "GET /v1/sys/internal/ui/mounts/secret/bin": V2_MOUNT,
    "GET /v1/secret/data/bin": [200, { data: { data: { v: "a\nb" }, metadata: { version: 1 } } }],
    "GET /v1/generic/x": [200, { data: { v: "x\n" } }],
    "POST /v1/auth/token/create": [200, { auth: { client_token: "hvs.c", accessor: "acc" } }],
    "GET /v1/auth/token/lookup-self": [200, { data: { accessor: "acc", policies: [] } }],
  };
  await withServer(routes, async (addr) => {
    const home = await Deno.makeTempDir();
    try {
      const env = { SECRETHUB_ADDR: addr, SECRETHUB_TOKEN: "t", HOME: home };
      const cases: [string[], string][] = [
        [["kv", "get", "-field=v", "secret/bin"], "a\nb"],
        [["kv", "get", "-field=v", "-format=json", "secret/bin"], '"a\\nb"'],
        [["read", "-field=v", "generic/x"], "x\n"],
        [["token", "create", "-field=token"], "hvs.c"],
        [["login", "-field=token_accessor", "-no-store", "hvs.t"], "acc"],
      ];
      for (const [argv, value] of cases) {
        const piped = await runTty(argv, env, false);
        assert.deepEqual([piped.code, piped.lines, piped.raw], [0, [], value], argv.join(" "));
        const tty = await runTty(argv, env, true);
        assert.deepEqual([tty.code, tty.lines, tty.raw], [0, [value], ""], argv.join(" "));
      }
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  });
});

Deno.test("runCli() keeps K=V keys named like Object.prototype members", async () => {
  const keys = ["constructor", "toString", "__proto__", "hasOwnProperty"];
  const routes: Record<string, Reply> = {
    "GET /v1/sys/internal/ui/mounts/secret/proto": V2_MOUNT,
    "POST /v1/secret/data/proto": [200, { data: { version: 1 } }],
    "POST /v1/secret/metadata/proto": [204],
    "POST /v1/auth/token/create": [200, { auth: { client_token: "hvs.c" } }],
  };
  await withServer(routes, async (addr, seen) => {
    const env = { SECRETHUB_ADDR: addr, SECRETHUB_TOKEN: "t" };
    const pairs = keys.map((k) => `${k}=v-${k}`);
    const expected = keys.map((k) => [k, `v-${k}`]);
    const body = () => JSON.parse(seen.at(-1)!.body);

    assert.equal(
      (await run(["kv", "put", "secret/proto", ...pairs, "n=1", "n=2"], { env })).code,
      0,
    );
    assert.deepEqual(Object.entries(body().data), [...expected, ["n", ["1", "2"]]]);

    const custom = pairs.flatMap((p) => ["-custom-metadata", p]);
    assert.equal(
      (await run(["kv", "metadata", "put", ...custom, "secret/proto"], { env })).code,
      0,
    );
    assert.deepEqual(Object.entries(body().custom_metadata), expected);

    const meta = pairs.flatMap((p) => ["-metadata", p]);
    assert.equal((await run(["token", "create", ...meta], { env })).code, 0);
    assert.deepEqual(Object.entries(body().meta), expected);
  });
});

Deno.test("runCli() shows the warnings of a 404 that carries no errors", async () => {
  const warning = "Invalid path for a versioned K/V secrets engine.";
  const reply: Reply = [404, { data: null, warnings: [warning] }];
  await withServer({ "PUT /v1/kv1/foo": reply, "GET /v1/kv1/foo": reply }, async (addr) => {
    const env = { SECRETHUB_ADDR: addr, SECRETHUB_TOKEN: "t" };
    const w = await run(["write", "kv1/foo", "bar=baz"], { env });
    assert.equal(w.code, 2);
    assert.match(w.err, /^Error writing data to kv1\/foo: Invalid path for a versioned K\/V /);
    for (const format of ["table", "json"]) {
      const r = await run(["read", `-format=${format}`, "kv1/foo"], { env });
      assert.equal(r.code, 2);
      assert.equal(
        r.err,
        `WARNING! The following warnings were returned from SecretHub:\n\n  * ${warning}\n\n` +
          "No value found at kv1/foo",
      );
    }
  });
});

Deno.test("runCli() status exits 1, not 2 (sealed), on a 200 that is no seal status", async () => {
  for (const body of [{}, { sealed: "false" }, "<html>ok</html>", [true]]) {
    await withServer({ "GET /v1/sys/seal-status": [200, body] }, async (addr) => {
      const r = await run(["status"], { env: { SECRETHUB_ADDR: addr } });
      assert.equal(r.code, 1, JSON.stringify(body));
      assert.equal(r.out, "");
      assert.equal(
        r.err,
        `Error checking seal status: GET ${addr}/v1/sys/seal-status: the reply has no boolean ` +
          `"sealed" field (not a SecretHub server?)`,
      );
    });
  }
});

Deno.test("runCli() keeps the query string, which holds read data, out of error messages", async () => {
  const routes: Record<string, Reply> = {
    "GET /v1/secret/data/x": [403, { errors: ["permission denied"] }],
  };
  await withServer(routes, async (addr, seen) => {
    const r = await run(["read", "secret/data/x", "pw=hunter2"], { env: { SECRETHUB_ADDR: addr } });
    assert.equal(seen[0]!.path, "/v1/secret/data/x?pw=hunter2");
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      `Error reading secret/data/x: permission denied (Code: 403, GET ${addr}/v1/secret/data/x)`,
    );
  });
});

Deno.test("runCli() help server and help agent print those commands' flags", async () => {
  const s = await run(["help", "server"]);
  assert.equal(s.code, 0);
  assert.match(s.out, /^Usage: secrethub server -config FILE/);
  assert.match(s.out, /-dev-listen-address=HOST:PORT/);
  const a = await run(["help", "agent"]);
  assert.equal(a.code, 0);
  assert.match(a.out, /^Usage: secrethub agent -config FILE/);
});
