import assert from "node:assert/strict";
import { join } from "node:path";
import { AgentConfigError, loadAgentConfig, parseAgentConfig } from "../../agent/config.ts";

function minimal(): Record<string, unknown> {
  return {
    core: { addresses: ["https://core:8200"], agent_addresses: ["wss://core:8201"] },
    auth: { role_id_file: "role_id", secret_id_file: "secret_id" },
    state_dir: "state",
    listener: { socket: "agent.sock" },
  };
}

function full(): Record<string, unknown> {
  return {
    core: {
      addresses: ["https://a:8200", "http://b:8200"],
      agent_addresses: ["wss://a:8201"],
      ca_file: "/etc/ca.pem",
    },
    auth: { role_id_file: "/etc/r", secret_id_file: "s", wrapped: true },
    agent_id: "Edge-01.site",
    state_dir: "/var/lib/agent",
    cache: { persist: false, max_stale: "1h30m", key_file: "k", max_entries: 5 },
    listener: { socket: "/run/a.sock", mode: "0600", group: "apps" },
    apps: [{ name: "web", token_file: "web.token", paths: ["secret/data/web/*", "kv/x"] }],
    templates: [
      {
        contents: "x",
        destination: "out/a.env",
        reload: { command: ["systemctl", "reload", "x"] },
      },
      {
        source: "t.tpl",
        destination: "/b",
        mode: "640",
        user: "root",
        group: "1234",
        reload: { signal: "HUP", pid_file: "x.pid" },
      },
      { contents: "y", destination: "/c", reload: { signal: "USR1", pid: 1234 } },
    ],
    exec: {
      command: ["app", "--serve"],
      env: { DB_PASSWORD: "secret/data/db#password" },
      env_prefix: "APP_SECRETS__",
      prefix_paths: ["secret/data/app"],
    },
    link: { backoff_initial: "250ms", backoff_max: "2s", heartbeat: 1.5 },
    log_level: "debug",
  };
}

function set(obj: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const keys = path.split(".");
  let o = obj as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[keys.at(-1)!] = value;
  return obj;
}

Deno.test("parseAgentConfig() fills defaults and resolves relative paths", () => {
  const c = parseAgentConfig(minimal(), "/etc/secrethub", "My-Host");
  assert.equal(c.agent_id, "my-host");
  assert.equal(c.state_dir, "/etc/secrethub/state");
  assert.equal(c.auth.role_id_file, "/etc/secrethub/role_id");
  assert.equal(c.auth.wrapped, false);
  assert.deepEqual(c.cache, {
    persist: true,
    max_stale: 72 * 3600,
    max_entries: 10000,
    key_file: undefined,
  });
  assert.deepEqual(c.link, { backoff_initial: 1000, backoff_max: 60_000, heartbeat: 30_000 });
  assert.deepEqual(c.listener, { socket: "/etc/secrethub/agent.sock", mode: 0o660 });
  assert.deepEqual(c.apps, []);
  assert.deepEqual(c.templates, []);
  assert.equal(c.exec, undefined);
});

Deno.test("parseAgentConfig() accepts every documented key", () => {
  const c = parseAgentConfig(full(), "/cfg");
  assert.equal(c.agent_id, "edge-01.site");
  assert.equal(c.cache.max_stale, 5400);
  assert.deepEqual(c.link, { backoff_initial: 250, backoff_max: 2000, heartbeat: 1500 });
  assert.equal(c.templates[1]!.uid, 0);
  assert.equal(c.templates[1]!.gid, 1234);
  assert.equal(c.cache.key_file, "/cfg/k");
  assert.equal(c.listener.mode, 0o600);
  assert.equal(c.apps[0]!.token_file, "/cfg/web.token");
  assert.equal(c.templates[0]!.destination, "/cfg/out/a.env");
  assert.equal(c.templates[0]!.mode, 0o600);
  assert.equal(c.templates[1]!.mode, 0o640);
  assert.equal(c.templates[1]!.source, "/cfg/t.tpl");
  assert.deepEqual(c.templates[1]!.reload, { signal: "HUP", pid_file: "/cfg/x.pid" });
  assert.deepEqual(c.templates[2]!.reload, { signal: "USR1", pid: 1234 });
  assert.deepEqual(c.exec!.env, { DB_PASSWORD: { path: "secret/data/db", field: "password" } });
  assert.equal(c.exec!.restart_on_change, true);
});

Deno.test("parseAgentConfig() turns restart_on_change off by default when reload_signal is set", () => {
  const exec = (e: Record<string, unknown>) =>
    parseAgentConfig(set(minimal(), "exec", { command: ["app"], ...e }), "/cfg", "h").exec!;
  assert.equal(exec({}).restart_on_change, true);
  assert.equal(exec({}).reload_signal, undefined);
  assert.equal(exec({ restart_on_change: false }).restart_on_change, false);
  const sig = exec({ reload_signal: "USR1" });
  assert.equal(sig.reload_signal, "USR1");
  assert.equal(sig.restart_on_change, false);
  assert.equal(exec({ reload_signal: "HUP", restart_on_change: false }).reload_signal, "HUP");
});

/** [mutation path, value, expected key, message fragment] */
const BAD: [string, unknown, string, string][] = [
  ["core.addresses", [], "core.addresses", "at least one"],
  ["core.addresses", ["ftp://x"], "core.addresses[0]", "http:// or https://"],
  ["core.agent_addresses", ["https://x:8201"], "core.agent_addresses[0]", "wss://"],
  ["core.extra", 1, "core.extra", "unknown key"],
  ["state_dir", "", "state_dir", "must not be empty"],
  ["listener.mode", "rw-r--r--", "listener.mode", "octal"],
  ["listener.mode", "0x1ff", "listener.mode", "octal"],
  ["cache", { max_stale: "forever" }, "cache.max_stale", "duration"],
  ["cache", { max_entries: 0 }, "cache.max_entries", ""],
  ["cache", { ttl: "1h" }, "cache.ttl", "unknown key"],
  ["agent_id", "-bad", "agent_id", "must match"],
  ["agent_id", "a".repeat(65), "agent_id", "must match"],
  [
    "apps",
    [{ name: "a", token_file: "t", paths: ["secret/*/x"] }],
    "apps[0].paths[0]",
    '"*" as the last',
  ],
  ["apps", [{ name: "a", token_file: "t", paths: [] }], "apps[0].paths", "at least one"],
  [
    "apps",
    [{ name: "a", token_file: "t", paths: ["x"] }, { name: "a", token_file: "u", paths: ["y"] }],
    "apps[1].name",
    "duplicate",
  ],
  ["templates", [{ destination: "d" }], "templates[0]", "exactly one of contents, source"],
  [
    "templates",
    [{ contents: "x", source: "y", destination: "d" }],
    "templates[0]",
    "exactly one of contents, source",
  ],
  [
    "templates",
    [{ contents: "x", destination: "d", reload: { signal: "KILL", pid: 5 } }],
    "templates[0].reload.signal",
    "HUP",
  ],
  [
    "templates",
    [{ contents: "x", destination: "d", reload: { signal: "HUP" } }],
    "templates[0].reload",
    "exactly one of pid_file, pid",
  ],
  [
    "templates",
    [{ contents: "x", destination: "d", reload: { command: [] } }],
    "templates[0].reload.command",
    "must name",
  ],
  [
    "templates",
    [{ contents: "x", destination: "d", reload: { command: ["x"], shell: true } }],
    "templates[0].reload.shell",
    "unknown key",
  ],
  [
    "templates",
    [{ contents: "x", destination: "d", owner: "root" }],
    "templates[0].owner",
    "unknown key",
  ],
  [
    "templates",
    [{ contents: "x", destination: "d" }, { contents: "y", destination: "./d" }],
    "templates[1].destination",
    "same file",
  ],
  [
    "templates",
    [{ contents: 'PW={{ secret "/secret/data/web/db" "password" }}', destination: "d" }],
    "templates[0].contents",
    'Invalid template at 1:14: the secret path "/secret/data/web/db" must not start with "/"',
  ],
  [
    "templates",
    [{ contents: "ok", destination: "a" }, {
      contents: 'A\n{{ secret "secret/data/./db" }}',
      destination: "b",
    }],
    "templates[1].contents",
    'at 2:11: the secret path "secret/data/./db" must not contain "." or ".." segments',
  ],
  [
    "templates",
    [{ contents: '{{ secret "secret/../sys/seal" "x" }}', destination: "d" }],
    "templates[0].contents",
    'the secret path "secret/../sys/seal" must not contain',
  ],
  [
    "exec",
    { env: { X: "/secret/data/db#password" } },
    "exec.env.X",
    'secret path "/secret/data/db" must not start with "/"',
  ],
  [
    "exec",
    { env_prefix: "A_", prefix_paths: ["secret/data/app", "secret/data/../x"] },
    "exec.prefix_paths[1]",
    'secret path "secret/data/../x" must not contain "." or ".." segments',
  ],
  [
    "templates",
    [{ contents: "x", destination: "/x/o/a.env" }, { contents: "y", destination: "/x/o/./a.env" }],
    "templates[1].destination",
    "same file",
  ],
  [
    "templates",
    [{ contents: "x", destination: "/x/o/a.env" }, {
      contents: "y",
      destination: "/x/p/..//o/a.env",
    }],
    "templates[1].destination",
    "same file",
  ],
  ["exec", { command: ["a"], env: { "1X": "p#f" } }, "exec.env.1X", "variable name"],
  ["exec", { command: ["a"], env: { X: "no-field" } }, "exec.env.X", "path#field"],
  ["exec", { command: ["a"], prefix_paths: ["p"] }, "exec.prefix_paths", "needs exec.env_prefix"],
  ["exec", { command: ["a"], reload_signal: "KILL" }, "exec.reload_signal", "one of HUP, TERM"],
  ["exec", { command: ["a"], reload_signal: "SIGHUP" }, "exec.reload_signal", "one of HUP"],
  [
    "exec",
    { command: ["a"], reload_signal: "HUP", restart_on_change: true },
    "exec.reload_signal",
    "cannot be combined with exec.restart_on_change",
  ],
  ["auth.secret_id_file", "role_id", "auth.secret_id_file", "same file"],
  ["log_level", "trace", "log_level", "debug, info"],
  ["link", { heartbeat: "0s" }, "link.heartbeat", "at least 1ms"],
  // Core closes a link silent for 75 s: a longer heartbeat would flap the link forever.
  ["link", { heartbeat: "90s" }, "link.heartbeat", "at most 60s"],
  ["link", { backoff_initial: "10s", backoff_max: "1s" }, "link.backoff_max", "not be less"],
  ["link", { backoff: "1s" }, "link.backoff", "unknown key"],
  [
    "templates",
    [{ contents: "x", destination: "d", user: "no-such-user-xyz" }],
    "templates[0].user",
    "Cannot find user",
  ],
  [
    "templates",
    [{ contents: "x", destination: "d", group: "no-such-group-xyz" }],
    "templates[0].group",
    "Cannot find group",
  ],
];

for (const [path, value, key, frag] of BAD) {
  Deno.test(`parseAgentConfig() rejects ${path}=${JSON.stringify(value)} naming "${key}"`, () => {
    assert.throws(
      () => parseAgentConfig(set(minimal(), path, value), "/cfg", "host"),
      (e: unknown) => {
        assert.ok(e instanceof AgentConfigError, String(e));
        assert.equal(e.key, key, e.message);
        assert.ok(e.message.startsWith(`Invalid config key "${key}": `), e.message);
        assert.ok(e.message.includes(frag), e.message);
        return true;
      },
    );
  });
}

Deno.test("parseAgentConfig() asks for agent_id when the hostname is not a valid id", () => {
  assert.throws(
    () => parseAgentConfig(minimal(), "/", "bad host!"),
    /hostname "bad host!".*set agent_id/,
  );
});

Deno.test("loadAgentConfig() resolves paths against the file's directory and names the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "agent_config_" });
  try {
    const f = join(dir, "agent.json");
    Deno.writeTextFileSync(f, JSON.stringify(minimal()));
    const c = await loadAgentConfig(f);
    assert.equal(c.state_dir, join(dir, "state"));
    Deno.writeTextFileSync(f, JSON.stringify(set(minimal(), "listener.sock", "x")));
    await assert.rejects(loadAgentConfig(f), {
      message: `${f}: Invalid config key "listener.sock": unknown key`,
    });
    Deno.writeTextFileSync(f, "{ nope");
    await assert.rejects(loadAgentConfig(f), /not valid JSON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseAgentConfig() names a missing required key the way core does", () => {
  for (const key of ["auth", "state_dir", "listener"]) {
    const c = minimal();
    delete c[key];
    assert.throws(
      () => parseAgentConfig(c, "/etc/agent"),
      (e: unknown) =>
        e instanceof AgentConfigError && e.key === key &&
        e.message === `missing required config key "${key}"`,
    );
  }
  const c = minimal();
  delete (c.auth as Record<string, unknown>).role_id_file;
  assert.throws(
    () => parseAgentConfig(c, "/etc/agent"),
    { message: 'missing required config key "auth.role_id_file"' },
  );
});

Deno.test("parseAgentConfig() refuses a template with a syntax error, naming templates[i].contents", () => {
  const c = minimal();
  c.templates = [
    { contents: "ok", destination: "a" },
    { contents: 'X={{ secret "p" ', destination: "b" },
  ];
  assert.throws(
    () => parseAgentConfig(c, "/etc/agent"),
    (e: unknown) =>
      e instanceof AgentConfigError && e.key === "templates[1].contents" &&
      /^Invalid config key "templates\[1\]\.contents": Invalid template at 1:\d+: /.test(e.message),
  );
});

Deno.test("loadAgentConfig() names the file and key for a bad template, source or missing key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "agent.json");
    const write = (c: unknown) => Deno.writeTextFile(file, JSON.stringify(c));
    await write({ ...minimal(), templates: [{ contents: "{{ oops", destination: "x" }] });
    await assert.rejects(loadAgentConfig(file), (e: Error) => {
      assert.match(
        e.message,
        /^.*agent\.json: Invalid config key "templates\[0\]\.contents": Invalid template at 1:1: /,
      );
      assert.ok(!e.message.includes("\n"));
      return true;
    });
    await Deno.writeTextFile(join(dir, "bad.tpl"), "A={{ secret }}");
    await write({ ...minimal(), templates: [{ source: "bad.tpl", destination: "x" }] });
    await assert.rejects(
      loadAgentConfig(file),
      /agent\.json: Invalid config key "templates\[0\]\.source": Invalid template at 1:/,
    );
    await write({ ...minimal(), templates: [{ source: "none.tpl", destination: "x" }] });
    await assert.rejects(
      loadAgentConfig(file),
      /agent\.json: Invalid config key "templates\[0\]\.source": .*none\.tpl: No such file or directory$/,
    );
    const noAuth = minimal();
    delete noAuth.auth;
    await write(noAuth);
    await assert.rejects(loadAgentConfig(file), {
      message: `${file}: missing required config key "auth"`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadAgentConfig() needs exec.command unless the command is given on the command line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "agent_config_" });
  try {
    const f = join(dir, "agent.json");
    Deno.writeTextFileSync(f, JSON.stringify(set(minimal(), "exec", { env: {} })));
    const c = await loadAgentConfig(f, { commandOnCommandLine: true });
    assert.equal(c.exec?.command, undefined);
    await assert.rejects(loadAgentConfig(f), {
      message: `${f}: missing required config key "exec.command" ` +
        "(or give the command after --: agent exec -config FILE -- CMD ARGS)",
    });
    Deno.writeTextFileSync(f, JSON.stringify(set(minimal(), "exec", { command: [] })));
    await assert.rejects(
      loadAgentConfig(f, { commandOnCommandLine: true }),
      /"exec\.command": must name a program/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parseAgentConfig() normalises absolute paths as it does relative ones", () => {
  const c = parseAgentConfig(
    {
      ...minimal(),
      state_dir: "/var/lib//agent/./state/",
      templates: [{ contents: "x", destination: "/etc/app/../web/./db.env" }],
    },
    "/cfg",
    "h",
  );
  assert.equal(c.state_dir, "/var/lib/agent/state");
  assert.equal(c.templates[0]!.destination, "/etc/web/db.env");
});
