/**
 * A PostgreSQL front for the database engine's fault tests, on a free 127.0.0.1 port. It asks
 * each client for its password and checks it against the SCRAM verifier PostgreSQL stores (the
 * test server trusts every local login, so a wrong password would otherwise go unnoticed), then
 * passes the session through. Once armed it cuts a connection right after PostgreSQL has answered
 * a COMMIT: the change is made, and the client only sees its connection fail.
 */
import type pg from "pg";

const enc = new TextEncoder();

/** The simple-protocol Query message node-postgres sends for `client.query("COMMIT")`. */
const COMMIT_MESSAGE = new Uint8Array([0x51, 0, 0, 0, 11, ...enc.encode("COMMIT"), 0]);
/** AuthenticationCleartextPassword. */
const ASK_PASSWORD = new Uint8Array([0x52, 0, 0, 0, 8, 0, 0, 0, 3]);
const SSL_REQUEST_CODE = 80877103;

function int32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n);
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function bytesOfBase64(s: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

function base64(b: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(b)));
}

/** Whether `password` matches a `pg_authid.rolpassword` SCRAM-SHA-256 verifier (RFC 5802). */
export async function scramMatches(verifier: string | null, password: string): Promise<boolean> {
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier ?? "");
  if (!m) return false;
  const key = await crypto.subtle.importKey("raw", enc.encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const salted = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: bytesOfBase64(m[2]!), iterations: Number(m[1]) },
    key,
    256,
  );
  const hmac = await crypto.subtle.importKey(
    "raw",
    salted,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const clientKey = await crypto.subtle.sign("HMAC", hmac, enc.encode("Client Key"));
  return base64(await crypto.subtle.digest("SHA-256", clientKey)) === m[3];
}

/** Whether PostgreSQL would accept `password` for `user` under password authentication. */
export async function passwordAccepted(
  admin: pg.Client,
  user: string,
  password: string,
): Promise<boolean> {
  const r = await admin.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [user]);
  return await scramMatches(r.rows[0]?.rolpassword ?? null, password);
}

/** Buffered reads of whole protocol pieces from a connection. */
class Reader {
  #conn: Deno.Conn;
  #buf: Uint8Array = new Uint8Array(0);

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Exactly `n` bytes, or null when the connection ends first. */
  async take(n: number): Promise<Uint8Array | null> {
    while (this.#buf.length < n) {
      const chunk = new Uint8Array(64 * 1024);
      const got = await this.#conn.read(chunk).catch(() => null);
      if (got === null) return null;
      this.#buf = concat(this.#buf, chunk.subarray(0, got));
    }
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  /** A length-prefixed body (the length counts itself). */
  async body(): Promise<Uint8Array | null> {
    const len = await this.take(4);
    if (!len) return null;
    return await this.take(new DataView(len.buffer).getInt32(0) - 4);
  }

  /** What was read past the last piece taken. */
  rest(): Uint8Array {
    return this.#buf;
  }
}

function cstrings(b: Uint8Array): string[] {
  return new TextDecoder().decode(b).split("\0");
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<boolean> {
  try {
    let off = 0;
    while (off < data.length) off += await conn.write(data.subarray(off));
    return true;
  } catch {
    return false;
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed from the other direction.
  }
}

export class PgProxy {
  readonly port: number;
  /** COMMITs cut so far. */
  cuts = 0;
  #armed = false;
  readonly #admin: pg.Client;
  readonly #listener: Deno.Listener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;

  /** `admin`: a superuser connection, to read the password verifiers. */
  constructor(admin: pg.Client) {
    this.#admin = admin;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accepting = this.#accept();
  }

  /** `url` with PostgreSQL's address replaced by the proxy's. */
  url(url: string): string {
    return url.replace("127.0.0.1:5432", `127.0.0.1:${this.port}`);
  }

  /** Cuts the next COMMIT any connection sends. */
  arm(): void {
    this.#armed = true;
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const c of this.#conns) closeQuietly(c);
    await this.#accepting;
    await Promise.all(this.#tasks);
  }

  async #accept(): Promise<void> {
    for (;;) {
      let client: Deno.Conn;
      try {
        client = await this.#listener.accept();
      } catch {
        return;
      }
      this.#conns.add(client);
      const task = this.#session(client).finally(() => {
        closeQuietly(client);
        this.#conns.delete(client);
        this.#tasks.delete(task);
      });
      this.#tasks.add(task);
    }
  }

  async #session(client: Deno.Conn): Promise<void> {
    const from = new Reader(client);
    let startup = await from.body();
    if (startup && new DataView(startup.buffer).getInt32(0) === SSL_REQUEST_CODE) {
      if (!await writeAll(client, enc.encode("N"))) return;
      startup = await from.body();
    }
    if (!startup) return;
    const params = cstrings(startup.subarray(4));
    const user = params[params.indexOf("user") + 1] ?? "";
    if (!await writeAll(client, ASK_PASSWORD)) return;
    const type = await from.take(1);
    const answer = await from.body();
    if (type?.[0] !== 0x70 || !answer) return;
    if (!await passwordAccepted(this.#admin, user, cstrings(answer)[0] ?? "")) {
      const fields = enc.encode(
        `SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "${user}"\0\0`,
      );
      await writeAll(client, concat(enc.encode("E"), int32(4 + fields.length), fields));
      return;
    }
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: 5432 });
    } catch {
      return;
    }
    this.#conns.add(server);
    try {
      const hello = concat(int32(4 + startup.length), startup, from.rest());
      if (await writeAll(server, hello)) await this.#pipe(client, server);
    } finally {
      closeQuietly(server);
      this.#conns.delete(server);
    }
  }

  async #pipe(client: Deno.Conn, server: Deno.Conn): Promise<void> {
    let cutting = false;
    const end = () => {
      closeQuietly(client);
      closeQuietly(server);
    };
    const up = async () => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await client.read(buf).catch(() => null);
        if (n === null) break;
        const chunk = buf.subarray(0, n);
        if (this.#armed && indexOf(chunk, COMMIT_MESSAGE) >= 0) {
          this.#armed = false;
          cutting = true;
        }
        if (!await writeAll(server, chunk)) break;
      }
      if (!cutting) end();
    };
    const down = async () => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await server.read(buf).catch(() => null);
        if (n === null) break;
        if (cutting) {
          // PostgreSQL has answered the COMMIT, so it is done; the client never hears of it.
          this.cuts++;
          break;
        }
        if (!await writeAll(client, buf.subarray(0, n))) break;
      }
      end();
    };
    await Promise.all([up(), down()]);
  }
}
