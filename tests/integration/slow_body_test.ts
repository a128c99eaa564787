/**
 * request_timeout covers reading the body: a client that trickles its body in is answered 408
 * when the request's time is up, instead of being waited for. Tested with a raw TCP client that
 * writes the body in small pieces, as a slow (or slowloris) client does.
 */
import assert from "node:assert/strict";
import { startTestCore, type TestCore } from "../helpers/test_core.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface RawReply {
  status: number;
  headers: string;
  body: string;
  /** Milliseconds from the first byte sent to the whole reply read. */
  ms: number;
}

/**
 * Sends a POST whose body goes out `piece` bytes every `everyMs`, and reads the reply as it comes
 * (while the body is still being sent). The socket is closed once the reply is in.
 */
async function slowPost(
  t: TestCore,
  path: string,
  body: string,
  piece: number,
  everyMs: number,
): Promise<RawReply & { sent: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(t.url).port) });
  const t0 = performance.now();
  let sent = 0;
  let stop = false;
  try {
    await conn.write(enc.encode(
      `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-vault-token: ${t.rootToken}\r\n` +
        `content-type: application/json\r\ncontent-length: ${enc.encode(body).length}\r\n\r\n`,
    ));
    const writer = (async () => {
      while (!stop && sent < body.length) {
        const chunk = body.slice(sent, sent + piece);
        try {
          await conn.write(enc.encode(chunk));
        } catch {
          return; // the server hung up
        }
        sent += chunk.length;
        if (sent < body.length) await new Promise((r) => setTimeout(r, everyMs));
      }
    })();
    const reply = await readReply(conn, t0);
    stop = true;
    conn.close();
    await writer;
    return { ...reply, sent };
  } catch (e) {
    stop = true;
    try {
      conn.close();
    } catch { /* already closed */ }
    throw e;
  }
}

/** One HTTP/1.1 reply with a content-length body. */
async function readReply(conn: Deno.Conn, t0: number): Promise<RawReply> {
  const buf = new Uint8Array(16 * 1024);
  let text = "";
  const give = setTimeout(() => conn.close(), 20_000); // never hang the suite
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) throw new Error(`connection closed before a whole reply: ${text}`);
      text += dec.decode(buf.subarray(0, n));
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      const headers = text.slice(0, end);
      const len = Number(/\r\ncontent-length: *(\d+)/i.exec(headers)?.[1] ?? "0");
      const body = text.slice(end + 4);
      if (enc.encode(body).length < len) continue;
      return {
        status: Number(headers.split(" ")[1]),
        headers,
        body,
        ms: performance.now() - t0,
      };
    }
  } finally {
    clearTimeout(give);
  }
}

Deno.test("request_timeout covers the body: 1.9 KB at 200 B/s with a 2 s timeout is a 408 at the deadline, not a 200 after 9.6 s", async () => {
  const t = await startTestCore({ requestTimeoutMs: 2000 });
  try {
    const body = JSON.stringify({ data: { blob: "x".repeat(1900 - 20) } });
    assert.equal(body.length, 1900);
    const r = await slowPost(t, "/v1/secret/data/slow", body, 20, 100);
    assert.equal(r.status, 408, r.headers + r.body);
    assert.deepEqual(JSON.parse(r.body), {
      errors: ["request timed out while reading the request body"],
    });
    assert.match(r.headers, /\r\nconnection: close/i);
    // The deadline is 2 s from the request's start; the sweep fires it at most 250 ms late.
    assert.ok(r.ms >= 1900 && r.ms < 3000, `answered after ${Math.round(r.ms)} ms`);
    assert.ok(r.sent < body.length, `the whole body went out (${r.sent} bytes)`);
    // Nothing was written, and the server goes on serving.
    assert.equal((await t.req("GET", "/v1/secret/data/slow")).status, 404);
    assert.equal((await t.req("POST", "/v1/secret/data/fast", { data: { v: 1 } })).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test("a body sent in pieces that is complete within request_timeout is served as usual", async () => {
  const t = await startTestCore({ requestTimeoutMs: 2000 });
  try {
    const body = JSON.stringify({ data: { v: "in-pieces" } });
    const r = await slowPost(t, "/v1/secret/data/pieces", body, 8, 100);
    assert.equal(r.status, 200, r.headers + r.body);
    assert.equal(r.sent, body.length);
    assert.equal(JSON.parse(r.body).data.version, 1);
    const read = await t.req("GET", "/v1/secret/data/pieces");
    assert.equal(read.body.data.data.v, "in-pieces");
    // The short route reads its body the same way.
    const s = await slowPost(t, "/v1/secrets/short-slow", JSON.stringify({ a: "b" }), 4, 50);
    assert.equal(s.status, 200, s.headers + s.body);
    assert.equal((await t.req("GET", "/v1/secrets/short-slow")).body.data.data.a, "b");
  } finally {
    await t.close();
  }
});

Deno.test("the short route and sys routes time out their slow bodies too", async () => {
  const t = await startTestCore({ requestTimeoutMs: 1000 });
  try {
    const body = JSON.stringify({ password: "p".repeat(400) });
    let r = await slowPost(t, "/v1/secrets/trickle", body, 10, 100);
    assert.equal(r.status, 408, r.headers + r.body);
    assert.ok(r.ms >= 900 && r.ms < 2000, `answered after ${Math.round(r.ms)} ms`);
    assert.equal((await t.req("GET", "/v1/secrets/trickle")).status, 404);
    // Every route reads its body through the same pipeline.
    r = await slowPost(t, "/v1/sys/policies/acl/slow", body, 10, 100);
    assert.equal(r.status, 408, r.headers + r.body);
  } finally {
    await t.close();
  }
});
