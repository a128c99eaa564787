import assert from "node:assert/strict";
import {
  ApiClient,
  clientTimeoutMs,
  DEFAULT_ADDRESS,
  DEFAULT_TIMEOUT_MS,
  NetworkError,
  networkReason,
  readTokenFile,
  resolveClientOptions,
  resolveEnv,
  tokenFilePath,
  writeTokenFile,
} from "../../lib/client.ts";

const ENV_CASES: {
  name: string;
  env: Record<string, string | undefined>;
  flag?: string;
  address: string;
  token: string | undefined;
  source: string;
}[] = [
  { name: "nothing set", env: {}, address: DEFAULT_ADDRESS, token: undefined, source: "default" },
  {
    name: "SECRETHUB_* pair",
    env: { SECRETHUB_ADDR: "https://sh:8200", SECRETHUB_TOKEN: "sh-tok" },
    address: "https://sh:8200",
    token: "sh-tok",
    source: "secrethub",
  },
  {
    name: "SECRETHUB_* wins over VAULT_*",
    env: {
      SECRETHUB_ADDR: "https://sh:8200",
      SECRETHUB_TOKEN: "sh-tok",
      VAULT_ADDR: "https://vault:8200",
      VAULT_TOKEN: "v-tok",
    },
    address: "https://sh:8200",
    token: "sh-tok",
    source: "secrethub",
  },
  {
    name: "VAULT_* adopted as a pair",
    env: { VAULT_ADDR: "https://vault:8200", VAULT_TOKEN: "v-tok" },
    address: "https://vault:8200",
    token: "v-tok",
    source: "vault",
  },
  {
    name: "SECRETHUB_ADDR alone never borrows VAULT_TOKEN",
    env: { SECRETHUB_ADDR: "https://sh:8200", VAULT_ADDR: "https://v:8200", VAULT_TOKEN: "v-tok" },
    address: "https://sh:8200",
    token: undefined,
    source: "secrethub",
  },
  {
    name: "SECRETHUB_TOKEN alone never borrows VAULT_ADDR",
    env: { SECRETHUB_TOKEN: "sh-tok", VAULT_ADDR: "https://v:8200", VAULT_TOKEN: "v-tok" },
    address: DEFAULT_ADDRESS,
    token: "sh-tok",
    source: "default",
  },
  {
    name: "VAULT_ADDR without VAULT_TOKEN is ignored",
    env: { VAULT_ADDR: "https://v:8200" },
    address: DEFAULT_ADDRESS,
    token: undefined,
    source: "default",
  },
  {
    name: "VAULT_TOKEN without VAULT_ADDR is ignored",
    env: { VAULT_TOKEN: "v-tok" },
    address: DEFAULT_ADDRESS,
    token: undefined,
    source: "default",
  },
  {
    name: "empty SECRETHUB_* count as unset",
    env: {
      SECRETHUB_ADDR: "",
      SECRETHUB_TOKEN: "",
      VAULT_ADDR: "https://v:8200",
      VAULT_TOKEN: "t",
    },
    address: "https://v:8200",
    token: "t",
    source: "vault",
  },
  {
    name: "-address flag beats SECRETHUB_ADDR",
    env: { SECRETHUB_ADDR: "https://sh:8200", SECRETHUB_TOKEN: "sh-tok" },
    flag: "http://flag:1",
    address: "http://flag:1",
    token: "sh-tok",
    source: "flag",
  },
  {
    name: "-address flag disables the VAULT_* pair",
    env: { VAULT_ADDR: "https://v:8200", VAULT_TOKEN: "v-tok" },
    flag: "http://flag:1",
    address: "http://flag:1",
    token: undefined,
    source: "flag",
  },
];

for (const c of ENV_CASES) {
  Deno.test(`resolveEnv() with ${c.name}`, () => {
    const s = resolveEnv(c.env, { address: c.flag });
    assert.equal(s.address, c.address);
    assert.equal(s.token, c.token);
    assert.equal(s.source, c.source);
  });
}

Deno.test("resolveEnv() takes the CA path from the flag, then SECRETHUB_CACERT", () => {
  assert.equal(resolveEnv({ SECRETHUB_CACERT: "/env.pem" }).caCertPath, "/env.pem");
  assert.equal(
    resolveEnv({ SECRETHUB_CACERT: "/env.pem" }, { caCertPath: "/flag.pem" }).caCertPath,
    "/flag.pem",
  );
  assert.equal(resolveEnv({ VAULT_CACERT: "/v.pem" }).caCertPath, undefined);
  assert.equal(
    resolveEnv({ VAULT_ADDR: "https://v", VAULT_TOKEN: "t", VAULT_CACERT: "/v.pem" }).caCertPath,
    "/v.pem",
  );
});

Deno.test("tokenFilePath() is ~/.secrethub-token, undefined without HOME", () => {
  assert.equal(tokenFilePath({ HOME: "/home/a/" }), "/home/a/.secrethub-token");
  assert.equal(tokenFilePath({}), undefined);
});

Deno.test("writeTokenFile() creates the file 0600 and readTokenFile() reads it back", async () => {
  const home = await Deno.makeTempDir();
  try {
    const path = tokenFilePath({ HOME: home })!;
    assert.equal(await readTokenFile(path), undefined);
    await writeTokenFile(path, "tok-1");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal(await readTokenFile(path), "tok-1");
    // Replacing keeps 0600 even when the old file had wider permissions.
    await Deno.chmod(path, 0o644);
    await writeTokenFile(path, "tok-2\n");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal(await readTokenFile(path), "tok-2");
    assert.deepEqual([...Deno.readDirSync(home)].map((e) => e.name), [".secrethub-token"]);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("resolveClientOptions() uses the token file only when no token variable is set", async () => {
  const home = await Deno.makeTempDir();
  try {
    await writeTokenFile(`${home}/.secrethub-token`, "from-file");
    assert.equal((await resolveClientOptions({ HOME: home })).token, "from-file");
    assert.equal(
      (await resolveClientOptions({ HOME: home, SECRETHUB_TOKEN: "from-env" })).token,
      "from-env",
    );
    const pair = await resolveClientOptions({
      HOME: home,
      VAULT_ADDR: "http://v",
      VAULT_TOKEN: "v",
    });
    assert.equal(pair.token, "v");
    const addrOnly = await resolveClientOptions({ HOME: home, SECRETHUB_ADDR: "http://sh" });
    assert.deepEqual(addrOnly, {
      address: "http://sh",
      token: "from-file",
      caCert: undefined,
      timeoutMs: DEFAULT_TIMEOUT_MS,
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("ApiClient.request() sends the token, LIST and JSON, and parses replies", async () => {
  const seen: {
    method: string;
    url: string;
    token: string | null;
    type: string | null;
    body: string;
  }[] = [];
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
    async (req) => {
      seen.push({
        method: req.method,
        url: new URL(req.url).pathname,
        token: req.headers.get("x-vault-token"),
        type: req.headers.get("content-type"),
        body: await req.text(),
      });
      if (req.method === "DELETE") return new Response(null, { status: 204 });
      if (req.method === "PATCH") return new Response("not json", { status: 400 });
      return Response.json({ data: { keys: ["a", "b/"] } });
    },
  );
  const client = new ApiClient({
    address: `http://127.0.0.1:${server.addr.port}/`,
    token: "tok",
  });
  try {
    assert.deepEqual(await client.request("LIST", "/secret/metadata/"), {
      status: 200,
      body: { data: { keys: ["a", "b/"] } },
    });
    assert.deepEqual(await client.request("DELETE", "secret/data/x"), { status: 204, body: null });
    assert.deepEqual(await client.request("PATCH", "secret/data/x", { data: {} }), {
      status: 400,
      body: "not json",
    });
    await client.request("POST", "sys/x", { a: 1 });
    assert.deepEqual(seen.map((s) => [s.method, s.url, s.token]), [
      ["LIST", "/v1/secret/metadata/", "tok"],
      ["DELETE", "/v1/secret/data/x", "tok"],
      ["PATCH", "/v1/secret/data/x", "tok"],
      ["POST", "/v1/sys/x", "tok"],
    ]);
    assert.equal(seen[2]!.type, "application/merge-patch+json");
    assert.equal(seen[3]!.type, "application/json");
    assert.equal(seen[3]!.body, '{"a":1}');
  } finally {
    client.close();
    ac.abort();
    await server.finished;
  }
});

Deno.test("ApiClient.request() throws NetworkError when nothing listens", async () => {
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const client = new ApiClient({ address: `http://127.0.0.1:${port}` });
  await assert.rejects(client.request("GET", "sys/health"), (err: unknown) => {
    assert.ok(err instanceof NetworkError);
    // The cause of Deno's bare "fetch failed", without the URL it repeats or the errno.
    assert.equal(
      err.message,
      `GET http://127.0.0.1:${port}/v1/sys/health: tcp connect error: Connection refused`,
    );
    return true;
  });
});

Deno.test("networkReason() prints the cause chain of a failed fetch", () => {
  const tls = new TypeError("fetch failed", {
    cause: new Error(
      "error sending request for url (https://localhost:8200/v1/sys/seal-status): client error " +
        "(Connect): invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))",
    ),
  });
  assert.equal(
    networkReason(tls),
    "invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))",
  );
  const dns = new TypeError("fetch failed", {
    cause: new Error(
      "error sending request for url (http://nope.invalid/v1/x): client error (Connect): " +
        "dns error: failed to lookup address information: Name or service not known",
    ),
  });
  assert.equal(
    networkReason(dns),
    "dns error: failed to lookup address information: Name or service not known",
  );
  // Without a cause the error's own message stays; with one beside a message, both.
  assert.equal(networkReason(new TypeError("fetch failed")), "fetch failed");
  assert.equal(
    networkReason(new Error("boom", { cause: new Error("deeper (os error 5)") })),
    "boom: deeper",
  );
});

const TIMEOUT_CASES: { env: Record<string, string>; ms: number }[] = [
  { env: {}, ms: 60_000 },
  { env: { SECRETHUB_CLIENT_TIMEOUT: "30" }, ms: 30_000 },
  { env: { SECRETHUB_CLIENT_TIMEOUT: "1.5" }, ms: 1_500 },
  { env: { SECRETHUB_CLIENT_TIMEOUT: "250ms" }, ms: 250 },
  { env: { SECRETHUB_CLIENT_TIMEOUT: "1m30s" }, ms: 90_000 },
  // As Vault's 0: no timeout at all.
  { env: { SECRETHUB_CLIENT_TIMEOUT: "0" }, ms: 0 },
  { env: { VAULT_CLIENT_TIMEOUT: "2s" }, ms: 2_000 },
  { env: { SECRETHUB_CLIENT_TIMEOUT: "", VAULT_CLIENT_TIMEOUT: "3" }, ms: 3_000 },
  { env: { SECRETHUB_CLIENT_TIMEOUT: "1s", VAULT_CLIENT_TIMEOUT: "9s" }, ms: 1_000 },
];

Deno.test("clientTimeoutMs() reads SECRETHUB_CLIENT_TIMEOUT, then VAULT_CLIENT_TIMEOUT", () => {
  for (const c of TIMEOUT_CASES) assert.equal(clientTimeoutMs(c.env), c.ms, JSON.stringify(c.env));
  for (const bad of ["abc", "-1", "5x", "s", "1h 2m"]) {
    assert.throws(
      () => clientTimeoutMs({ VAULT_CLIENT_TIMEOUT: bad }),
      new TypeError(
        `Invalid VAULT_CLIENT_TIMEOUT "${bad}": expected seconds or a duration such as "30s" ` +
          `or "2m"`,
      ),
    );
  }
});

Deno.test("ApiClient.request() rethrows the caller's abort as it is, not as a NetworkError", async () => {
  const client = new ApiClient({ address: "http://127.0.0.1:9" });
  await assert.rejects(
    client.request("GET", "sys/health", undefined, undefined, { signal: AbortSignal.abort() }),
    (err: unknown) => err instanceof DOMException && err.name === "AbortError",
  );
});

Deno.test("ApiClient.request() leaves the query string out of a NetworkError", async () => {
  const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const client = new ApiClient({ address: `http://127.0.0.1:${port}` });
  await assert.rejects(client.request("GET", "secret/data/x?pw=hunter2"), (err: unknown) => {
    assert.ok(err instanceof NetworkError);
    assert.equal(
      err.message,
      `GET http://127.0.0.1:${port}/v1/secret/data/x: tcp connect error: Connection refused`,
    );
    return true;
  });
});
