/**
 * SIGTERM drains, as Vault does: a real server process, a client uploading its body slowly over a
 * raw TCP connection, and SIGTERM in the middle of the upload. The upload finishes and is stored
 * (200, readable after a restart); new requests during the drain get 503; a second signal ends
 * the grace period and the request still uploading gets 503. Never a 500, and the exit code is 0.
 */
import assert from "node:assert/strict";
import { call, initAndUnseal, startServerProcess } from "../helpers/server_process.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Reads one HTTP/1.1 response (Content-Length framed, as the server sends its JSON). */
async function readResponse(conn: Deno.Conn): Promise<RawResponse> {
  let buf = new Uint8Array(0);
  const chunk = new Uint8Array(64 * 1024);
  for (;;) {
    const text = dec.decode(buf);
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(":");
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const length = Number(headers["content-length"] ?? "0");
      const body = text.slice(end + 4);
      if (enc.encode(body).length >= length) {
        return { status: Number(statusLine!.split(" ")[1]), headers, body };
      }
    }
    let n: number | null;
    try {
      n = await conn.read(chunk);
    } catch (e) {
      throw new Error(`connection failed before a whole response (${buf.length} bytes read)`, {
        cause: e,
      });
    }
    if (n === null) throw new Error(`connection closed after ${buf.length} bytes: ${text}`);
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
  }
}

/**
 * POSTs `body` at about `bytesPerSecond` (10 chunks a second) while reading the reply, and calls
 * `during(sentBytes)` after each chunk. Writing stops when the server answers or closes.
 */
async function slowPost(
  port: number,
  path: string,
  token: string,
  body: Uint8Array,
  bytesPerSecond: number,
  during: (sent: number) => void,
): Promise<{ response: RawResponse; sent: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Vault-Token: ${token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    await conn.write(enc.encode(head));
    let answered = false;
    const reply = readResponse(conn).finally(() => answered = true);
    reply.catch(() => {});
    const step = Math.ceil(bytesPerSecond / 10);
    let sent = 0;
    while (sent < body.length && !answered) {
      const piece = body.subarray(sent, Math.min(body.length, sent + step));
      try {
        for (let off = 0; off < piece.length;) off += await conn.write(piece.subarray(off));
      } catch {
        break; // the server answered and closed: the reply says what happened
      }
      sent += piece.length;
      during(sent);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { response: await reply, sent };
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

function payload(bytes: number): { json: Uint8Array; blob: string } {
  const blob = "x".repeat(bytes);
  return { json: enc.encode(JSON.stringify({ data: { blob } })), blob };
}

async function logLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(file);
  return text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

Deno.test("SIGTERM during a slow upload: the upload completes (200, stored), new requests get 503, exit 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-sigterm-" });
  const logFile = `${dir}/server.log`;
  try {
    const srv = await startServerProcess(dir, undefined, { logFile });
    const port = Number(new URL(srv.url).port);
    const { token, key } = await initAndUnseal(srv.url);
    const { json, blob } = payload(300_000);
    let signalled = false;
    let during: Promise<Response> | null = null;
    const { response } = await slowPost(
      port,
      "/v1/secret/data/midterm",
      token,
      json,
      100_000,
      (sent) => {
        if (!signalled && sent >= 100_000) {
          signalled = true;
          srv.child.kill("SIGTERM");
          // A request that arrives while the server drains is refused, not served.
          during = new Promise((r) => setTimeout(r, 300)).then(() =>
            fetch(`${srv.url}/v1/sys/health`)
          );
        }
      },
    );
    assert.ok(signalled);
    assert.equal(response.status, 200, response.body);
    assert.equal(JSON.parse(response.body).data.version, 1);
    const refused = await during!;
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("connection"), "close");
    assert.deepEqual(await refused.json(), { errors: ["server is shutting down"] });
    const st = await srv.child.status;
    assert.equal(st.code, 0);
    assert.equal(st.signal, null);
    await srv.logged;
    const lines = await logLines(logFile);
    assert.ok(!lines.some((l) => l["@level"] === "error"), JSON.stringify(lines));

    // What was answered 200 is on disk.
    const again = await startServerProcess(dir, undefined, { logFile });
    try {
      assert.equal((await call(again.url, "PUT", "/v1/sys/unseal", { key })).status, 200);
      const r = await call(again.url, "GET", "/v1/secret/data/midterm", undefined, token);
      assert.equal(r.status, 200);
      assert.equal(r.body.data.data.blob, blob);
    } finally {
      await again.kill();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a second SIGTERM ends the grace period: the upload still in flight gets 503, never 500; exit 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-sigterm-" });
  const logFile = `${dir}/server.log`;
  try {
    const srv = await startServerProcess(dir, undefined, { logFile });
    const port = Number(new URL(srv.url).port);
    const { token } = await initAndUnseal(srv.url);
    const { json } = payload(300_000);
    let terms = 0;
    const started = Date.now();
    const { response, sent } = await slowPost(
      port,
      "/v1/secret/data/cut",
      token,
      json,
      100_000,
      (sent) => {
        if (terms === 0 && sent >= 100_000) {
          terms++;
          srv.child.kill("SIGTERM");
        } else if (terms === 1 && sent >= 150_000) {
          terms++;
          srv.child.kill("SIGTERM");
        }
      },
    );
    assert.equal(terms, 2);
    assert.equal(response.status, 503, response.body);
    assert.deepEqual(JSON.parse(response.body), { errors: ["server is shutting down"] });
    assert.equal(response.headers["connection"], "close");
    assert.ok(sent < json.length, "answered before the upload ended");
    const st = await srv.child.status;
    assert.equal(st.code, 0);
    assert.ok(Date.now() - started < 8_000, "the second signal did not wait out the grace period");
    await srv.logged;
    const lines = await logLines(logFile);
    assert.ok(
      !lines.some((l) => l["@level"] === "error" || l["@message"] === "internal error"),
      JSON.stringify(lines),
    );
    assert.ok(
      lines.some((l) => l["@message"] === "shutting down: answered requests still in flight 503"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("SIGTERM: a client that stopped halfway through its body does not keep the server up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-stuck-body-" });
  const srv = await startServerProcess(dir, undefined, { config: { request_timeout: 1 } });
  let conn: Deno.Conn | null = null;
  try {
    await initAndUnseal(srv.url);
    const port = Number(new URL(srv.url).port);
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    // 100 bytes announced, one sent, nothing more: answered 408 at request_timeout, and the
    // connection stays open waiting for the rest.
    await conn.write(enc.encode(
      "POST /v1/sys/unseal HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n" +
        "Content-Length: 100\r\n\r\n{",
    ));
    assert.equal((await readResponse(conn)).status, 408);
    srv.child.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      srv.child.status,
      new Promise<null>((r) => timer = setTimeout(() => r(null), 10_000)),
    ]);
    clearTimeout(timer);
    assert.ok(status !== null, "still running 10 s after SIGTERM");
    assert.equal(status.code, 0);
  } finally {
    try {
      conn?.close();
    } catch { /* closed by the server's exit */ }
    await srv.kill().catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
