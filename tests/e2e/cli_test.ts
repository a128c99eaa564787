import assert from "node:assert/strict";
import { freePort, MAIN, startServerProcess } from "../helpers/server_process.ts";

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(env: Record<string, string>, args: string[], stdin?: string): Promise<Out> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { ...env, NO_COLOR: "1" },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const o = await child.output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

Deno.test("CLI end to end against a real server process", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-e2e-" });
  const srv = await startServerProcess(dir);
  const home = `${dir}/home`;
  await Deno.mkdir(home);
  const env: Record<string, string> = { SECRETHUB_ADDR: srv.url, HOME: home };
  try {
    let r = await cli(env, ["status"]);
    assert.equal(r.code, 2, r.stderr); // sealed (not initialised) → 2, like vault status

    r = await cli(env, ["operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json"]);
    assert.equal(r.code, 0, r.stderr);
    const init = JSON.parse(r.stdout);
    assert.equal(init.unseal_keys_b64.length, 3);
    const root: string = init.root_token;

    r = await cli(env, ["operator", "unseal", init.unseal_keys_b64[0]]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(env, ["operator", "unseal", init.unseal_keys_hex[2]]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(env, ["status", "-format=json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).sealed, false);

    // No token yet: an API error exits 2 with the server's message on stderr.
    r = await cli(env, ["kv", "get", "secret/app"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /permission denied/);

    r = await cli(env, ["login", root]);
    assert.equal(r.code, 0, r.stderr);
    const st = await Deno.stat(`${home}/.secrethub-token`);
    assert.equal(st.mode! & 0o777, 0o600);

    r = await cli(env, ["kv", "put", "secret/app/db", "user=app", "password=p1"]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(env, ["kv", "put", "secret/app/db", "user=app", "password=p2"]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(env, ["kv", "get", "-field=password", "secret/app/db"]);
    assert.equal(r.stdout.trim(), "p2");
    r = await cli(env, ["kv", "get", "-version=1", "-format=json", "secret/app/db"]);
    assert.equal(JSON.parse(r.stdout).data.data.password, "p1");
    r = await cli(env, ["kv", "list", "secret/app"]);
    assert.match(r.stdout, /db/);
    r = await cli(env, ["kv", "metadata", "get", "-format=json", "secret/app/db"]);
    assert.equal(JSON.parse(r.stdout).data.current_version, 2);
    r = await cli(env, ["kv", "delete", "secret/app/db"]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(env, ["kv", "get", "secret/app/db"]);
    assert.equal(r.code, 2);
    r = await cli(env, ["kv", "undelete", "-versions=2", "secret/app/db"]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(env, ["kv", "get", "-field=password", "secret/app/db"]);
    assert.equal(r.stdout.trim(), "p2");

    r = await cli(
      env,
      ["policy", "write", "app-ro", "-"],
      `path "secret/data/app/*" { capabilities = ["read"] }`,
    );
    assert.equal(r.code, 0, r.stderr);
    r = await cli(env, ["policy", "list"]);
    assert.match(r.stdout, /app-ro/);
    r = await cli(env, ["token", "create", "-policy=app-ro", "-ttl=1h", "-format=json"]);
    assert.equal(r.code, 0, r.stderr);
    const child = JSON.parse(r.stdout).auth.client_token;
    const childEnv = { ...env, SECRETHUB_TOKEN: child };
    r = await cli(childEnv, ["kv", "get", "-field=user", "secret/app/db"]);
    assert.equal(r.stdout.trim(), "app");
    r = await cli(childEnv, ["kv", "put", "secret/app/db", "user=evil"]);
    assert.equal(r.code, 2);
    r = await cli(env, ["token", "lookup", "-format=json", child]);
    assert.deepEqual(JSON.parse(r.stdout).data.policies, ["app-ro", "default"]);
    r = await cli(env, ["token", "revoke", child]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(childEnv, ["kv", "get", "secret/app/db"]);
    assert.equal(r.code, 2);

    r = await cli(env, [
      "write",
      "sys/policies/acl/x",
      'policy=path "a/*" { capabilities = ["read"] }',
    ]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(env, ["read", "-format=json", "sys/policies/acl/x"]);
    assert.match(JSON.parse(r.stdout).data.policy, /a\/\*/);

    r = await cli(env, ["operator", "key-status", "-format=json"]);
    const ks = JSON.parse(r.stdout);
    assert.equal(ks.data?.term ?? ks.term, 1, r.stdout);
    r = await cli(env, ["operator", "rotate"]);
    assert.equal(r.code, 0, r.stderr);

    r = await cli(env, ["audit", "verify"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // Offline, against the file, with the unseal keys.
    r = await cli(env, [
      "audit",
      "verify",
      "-db",
      `${dir}/data/secrethub.db`,
      `-unseal-key=${init.unseal_keys_b64[0]}`,
      `-unseal-key=${init.unseal_keys_b64[1]}`,
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);

    r = await cli(env, ["operator", "seal"]);
    assert.equal(r.code, 0, r.stderr);
    r = await cli(env, ["status"]);
    assert.equal(r.code, 2);

    r = await cli(env, ["version"]);
    assert.match(r.stdout, /SecretHub v0\.1\.0/);
    r = await cli(env, ["version", "-format=json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { name: "SecretHub", version: "0.1.0" });
    r = await cli(env, ["kv", "get"]);
    assert.equal(r.code, 1); // usage error
    r = await cli(env, ["kv", "frob", "x"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Error: unknown subcommand "frob"\n\nUsage: secrethub kv <subcommand>/);
    r = await cli(env, ["frob"]);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /Error: unknown command "frob"/);
  } finally {
    await srv.kill();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("server -config rejects a bad config file naming the key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/c.json`,
      JSON.stringify({ listener: { address: 5 }, storage: { path: dir } }),
    );
    const r = await cli({}, ["server", "-config", `${dir}/c.json`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /listener\.address/);
    const r2 = await cli({}, ["server", "-dev", "-config", `${dir}/c.json`]);
    assert.equal(r2.code, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server -dev runs the agent listener on -dev-agent-listen-address with a cert from the agent CA", async () => {
  const [port, agentPort] = [freePort(), freePort()];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "server",
      "-dev",
      "-dev-listen-address",
      `127.0.0.1:${port}`,
      "-dev-agent-listen-address",
      `127.0.0.1:${agentPort}`,
    ],
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const client = { http: null as Deno.HttpClient | null };
  try {
    // The banner (stderr) names the agent listener once it runs; a hung start is killed.
    const deadline = setTimeout(() => child.kill("SIGKILL"), 20_000);
    let banner = "";
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    while (!/Agent listener: (\S+)/.test(banner)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`dev server exited early:\n${banner}`);
      banner += value;
    }
    clearTimeout(deadline);
    void reader.cancel().catch(() => {});
    assert.match(banner, new RegExp(`Agent listener: https://127\\.0\\.0\\.1:${agentPort}`));
    const ca = await (await fetch(`http://127.0.0.1:${port}/v1/sys/agent/ca`)).text();
    assert.match(ca, /BEGIN CERTIFICATE/);
    // Its server certificate verifies against that CA (and only against it), and without a
    // client certificate the handshake is refused (an alert, or the server just hangs up).
    const url = `https://127.0.0.1:${agentPort}/v1/agent/connect`;
    const failure = (c?: Deno.HttpClient) =>
      fetch(url, c ? { client: c } : {}).then(
        () => "no error",
        (e: Error) => String(e.cause ?? e),
      );
    client.http = Deno.createHttpClient({ caCerts: [ca] });
    const withCa = await failure(client.http);
    assert.doesNotMatch(withCa, /UnknownIssuer|invalid peer certificate/, withCa);
    assert.match(withCa, /CertificateRequired|close_notify|closed|reset/i, withCa);
    assert.match(await failure(), /UnknownIssuer|invalid peer certificate/);
  } finally {
    client.http?.close();
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
  }
});
