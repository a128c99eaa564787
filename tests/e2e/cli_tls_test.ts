/**
 * The CLI against unreachable and TLS servers: the error line says why (the fetch error's cause),
 * and the certificate recipes in the README's TLS section work with the CLI (rustls), which
 * refuses a CA certificate used as the server's own (`openssl req -x509` alone makes one).
 */
import assert from "node:assert/strict";
import { freePort, MAIN, startServerProcess } from "../helpers/server_process.ts";

const README = new URL("../../README.md", import.meta.url).pathname;

/** The README's recipes, run here as written there (the test checks the README holds them). */
export const SELF_SIGNED =
  `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \\
  -subj "/CN=localhost" -keyout tls.key -out tls.crt \\
  -addext "basicConstraints=critical,CA:FALSE" \\
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"`;

export const CA_AND_LEAF =
  `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \\
  -subj "/CN=SecretHub CA" -keyout ca.key -out ca.crt
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \\
  -subj "/CN=localhost" -keyout tls.key -out tls.csr
printf 'basicConstraints=critical,CA:FALSE\\nsubjectAltName=DNS:localhost,IP:127.0.0.1\\n' > tls.ext
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \\
  -extfile tls.ext -out tls.crt`;

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], cwd?: string): Promise<Out> {
  const o = await new Deno.Command(cmd, {
    args,
    cwd,
    env: { NO_COLOR: "1", SECRETHUB_TOKEN: "", SECRETHUB_ADDR: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

const cli = (args: string[], cwd?: string) =>
  run(Deno.execPath(), ["run", "-A", MAIN, ...args], cwd);

async function sh(script: string, cwd: string): Promise<void> {
  const o = await run("bash", ["-euc", script], cwd);
  assert.equal(o.code, 0, `${script}\n${o.stderr}`);
}

Deno.test("CLI: a refused connection says so, not just 'fetch failed'", async () => {
  const port = freePort();
  const o = await cli(["status", `-address=http://127.0.0.1:${port}`]);
  assert.equal(o.code, 1, o.stderr); // status: 1 on error
  assert.ok(
    o.stderr.split("\n").includes(
      `Error checking seal status: GET http://127.0.0.1:${port}/v1/sys/seal-status: ` +
        "tcp connect error: Connection refused",
    ),
    o.stderr,
  );
  assert.doesNotMatch(o.stderr, /fetch failed/);
  const kv = await cli(["kv", "get", `-address=http://127.0.0.1:${port}`, "secret/x"]);
  assert.equal(kv.code, 2, kv.stderr);
  assert.match(kv.stderr, /tcp connect error: Connection refused/);
  assert.doesNotMatch(kv.stderr, /fetch failed/);
});

Deno.test("README's TLS recipes: the CLI refuses a plain openssl -x509 cert and accepts both recipes", async () => {
  const readme = await Deno.readTextFile(README);
  assert.ok(readme.includes(SELF_SIGNED), "README holds the self-signed recipe as tested");
  assert.ok(readme.includes(CA_AND_LEAF), "README holds the CA + leaf recipe as tested");

  const dir = await Deno.makeTempDir({ prefix: "secrethub-tls-" });
  try {
    // 1. A plain self-signed certificate: CA:TRUE, which rustls refuses as a server's own.
    const plain = `${dir}/plain`;
    await Deno.mkdir(plain);
    await sh(
      `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 ` +
        `-subj "/CN=localhost" -keyout tls.key -out tls.crt 2>/dev/null`,
      plain,
    );
    // 2. The README's self-signed end-entity certificate, 3. its CA and leaf.
    const self = `${dir}/self`, chain = `${dir}/chain`;
    await Deno.mkdir(self);
    await Deno.mkdir(chain);
    await sh(`${SELF_SIGNED} 2>/dev/null`, self);
    await sh(`(\n${CA_AND_LEAF}\n) 2>/dev/null`, chain);

    const cases: [string, string, string, RegExp | null][] = [
      [plain, "tls.crt", "localhost", /invalid peer certificate: .*CaUsedAsEndEntity/],
      [self, "tls.crt", "localhost", null],
      [self, "tls.crt", "127.0.0.1", null],
      [chain, "ca.crt", "localhost", null],
      [chain, "ca.crt", "127.0.0.1", null],
    ];
    for (const [certDir, ca, host, refused] of cases) {
      const srv = await startServerProcess(certDir, freePort(), {
        tls: { certFile: `${certDir}/tls.crt`, keyFile: `${certDir}/tls.key` },
      });
      try {
        const address = srv.url.replace("127.0.0.1", host);
        const o = await cli([
          "status",
          `-address=${address}`,
          `-ca-cert=${certDir}/${ca}`,
          "-format=json",
        ]);
        const what = `${certDir.slice(dir.length)} via ${host}: ${o.stderr}`;
        if (refused) {
          assert.equal(o.code, 1, what);
          assert.match(o.stderr, refused, what);
          assert.match(o.stderr, new RegExp(`GET ${address}/v1/sys/seal-status: `), what);
        } else {
          assert.equal(o.code, 2, what); // a new server is sealed: status exits 2
          assert.equal(JSON.parse(o.stdout).sealed, true, what);
        }
      } finally {
        await srv.kill();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
