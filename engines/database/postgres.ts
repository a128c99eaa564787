/**
 * The PostgreSQL side: one node-postgres pool per connection config (created on first use,
 * replaced when the config changes), transactions for creation/renewal statements, and Vault's
 * default revocation. Every driver error leaves here scrubbed of the passwords involved.
 */
import pg from "pg";
import { BadRequest, HttpError, InternalError } from "../sdk.ts";
import {
  endsTransaction,
  quoteIdentifier,
  renderTemplate,
  scrub,
  splitStatements,
} from "./statements.ts";
import type { ConfigRecord } from "./store.ts";

// node-postgres ships no types; these are the few members used here.
interface QueryResult {
  rows: Record<string, unknown>[];
}
interface Queryable {
  query(text: string, values?: unknown[]): Promise<QueryResult>;
}
interface PoolClient extends Queryable {
  release(destroy?: boolean): void;
  on(event: "error", fn: (e: unknown) => void): void;
}
interface Pool extends Queryable {
  connect(): Promise<PoolClient>;
  end(): Promise<void>;
  on(event: "error", fn: (e: unknown) => void): void;
}
interface Client extends Queryable {
  connect(): Promise<void>;
  end(): Promise<void>;
  on(event: "error", fn: (e: unknown) => void): void;
}

const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 30_000;
/**
 * PostgreSQL cancels a statement running longer (a creation statement waiting on a lock, say),
 * so it cannot hold a pool connection past core's default request timeout of 90 s.
 */
const STATEMENT_TIMEOUT_MS = 60_000;
/**
 * The client gives up on an answer after this even when the server cannot cancel (a network
 * that went silent); longer than the statement timeout, so a slow statement fails cleanly first.
 */
const QUERY_TIMEOUT_MS = 75_000;

/** Vault's default renew statement for PostgreSQL. */
export const DEFAULT_RENEW = [`ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}';`];
/** Vault's default root rotation statement. */
export const DEFAULT_ROOT_ROTATION = [`ALTER ROLE "{{username}}" WITH PASSWORD '{{password}}';`];

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Rejects anything but a postgres[ql]:// URL, without echoing it (it may hold a password). */
export function checkConnectionUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url.replaceAll("{{username}}", "u").replaceAll("{{password}}", "p"));
  } catch {
    throw new BadRequest("connection_url: must be a postgresql:// URL");
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") {
    throw new BadRequest("connection_url: must be a postgresql:// URL");
  }
}

/** Query parameters node-postgres takes a password from. */
const PASSWORD_PARAMS = new Set(["password", "sslpassword"]);

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** A password value that is not the `{{password}}` placeholder. */
function isLiteral(raw: string): boolean {
  return raw !== "" && decode(raw) !== "{{password}}";
}

/**
 * A URL cut where the WHATWG parser (used by node-postgres) cuts it: the authority ends at the
 * first "/", "?" or "#", and its last "@" ends the user info, so an unencoded "@" in a password
 * stays in the password (as with Go's url.Parse in Vault).
 */
interface UrlParts {
  head: string;
  user: string;
  /** Null without a ":" in the user info. */
  password: string | null;
  /** Whether the authority has an "@". */
  hasUserInfo: boolean;
  host: string;
  path: string;
  /** Null without a "?". */
  query: string | null;
  fragment: string;
}

function urlParts(url: string): UrlParts | null {
  const head = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0];
  if (!head) return null;
  let rest = url.slice(head.length);
  const hash = rest.indexOf("#");
  const fragment = hash < 0 ? "" : rest.slice(hash);
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf("?");
  const query = q < 0 ? null : rest.slice(q + 1);
  if (q >= 0) rest = rest.slice(0, q);
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = rest.slice(authority.length);
  const at = authority.lastIndexOf("@");
  const userInfo = at < 0 ? "" : authority.slice(0, at);
  const colon = userInfo.indexOf(":");
  return {
    head,
    user: colon < 0 ? userInfo : userInfo.slice(0, colon),
    password: colon < 0 ? null : userInfo.slice(colon + 1),
    hasUserInfo: at >= 0,
    host: authority.slice(at + 1),
    path,
    query,
    fragment,
  };
}

/** The query's `key=value` pairs: each as written, with its decoded key and raw value. */
function queryPairs(query: string): { text: string; key: string; value: string }[] {
  return query.split("&").map((text) => {
    const eq = text.indexOf("=");
    const key = decode((eq < 0 ? text : text.slice(0, eq)).replaceAll("+", " "));
    return { text, key, value: eq < 0 ? "" : text.slice(eq + 1) };
  });
}

/**
 * Every literal password the URL carries (in its user info, or a `password`/`sslpassword` query
 * parameter), as written and percent-decoded: what error text must not show.
 */
export function literalPasswords(url: string): string[] {
  const u = urlParts(url);
  if (!u) return [];
  const raw: string[] = [];
  if (u.password !== null && isLiteral(u.password)) raw.push(u.password);
  for (const p of u.query === null ? [] : queryPairs(u.query)) {
    if (PASSWORD_PARAMS.has(p.key) && isLiteral(p.value)) raw.push(p.value);
  }
  return [...new Set(raw.flatMap((r) => [r, decode(r.replaceAll("+", " ")), decode(r)]))];
}

/** True when the stored URL carries a literal password (Vault warns about it). */
export function hasLiteralPassword(url: string): boolean {
  return literalPasswords(url).length > 0;
}

/** The URL with every literal password masked whole, as reads return it. */
export function maskUrl(url: string): string {
  const u = urlParts(url);
  if (!u || !hasLiteralPassword(url)) return url;
  let out = u.head;
  if (u.hasUserInfo) {
    const pw = u.password === null ? "" : `:${isLiteral(u.password) ? "*****" : u.password}`;
    out += `${u.user}${pw}@`;
  }
  out += u.host + u.path;
  let queryLiteral = false;
  if (u.query !== null) {
    const pairs = queryPairs(u.query).map((p) => {
      if (!PASSWORD_PARAMS.has(p.key) || !isLiteral(p.value)) return p.text;
      queryLiteral = true;
      return `${p.text.slice(0, p.text.indexOf("="))}=*****`;
    });
    out += `?${pairs.join("&")}`;
  }
  // An unencoded "#" in a query password would leave its tail in the fragment.
  return out + (queryLiteral && u.fragment ? "#*****" : u.fragment);
}

/** What error text from a connection's driver must not show. */
export function configSecrets(c: ConfigRecord): string[] {
  return [c.password, c.pending_password ?? "", ...literalPasswords(c.connection_url)];
}

/**
 * The URL the driver gets: placeholders replaced by the URL-encoded credentials, and the
 * configured username/password added when the URL names no user (node-postgres would otherwise
 * fall back to the server process's own user).
 */
function connectionString(c: ConfigRecord, password: string): string {
  const rendered = renderTemplate(c.connection_url, {
    username: encodeURIComponent(c.username),
    password: encodeURIComponent(password),
  });
  const u = new URL(rendered);
  if (!u.username && c.username) {
    u.username = encodeURIComponent(c.username);
    if (!u.password && password) u.password = encodeURIComponent(password);
  }
  return u.toString();
}

function driverOptions(c: ConfigRecord, password: string): Record<string, unknown> {
  return {
    connectionString: connectionString(c, password),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    application_name: "secrethub",
  };
}

/** A connection error as clients see it: the driver's text with every password removed. */
export function connectionError(prefix: string, e: unknown, c: ConfigRecord, extra: string[] = []) {
  const text = scrub(message(e), [...configSecrets(c), ...extra]);
  return `${prefix}: ${text}`;
}

/** Connects with `password` (default: the stored one) and runs `SELECT 1`; throws a 400. */
export async function verifyConnection(c: ConfigRecord, password = c.password): Promise<void> {
  let client: Client | undefined;
  try {
    client = new pg.Client(driverOptions(c, password)) as Client;
    // A socket error after connect would otherwise be an unhandled 'error' event.
    client.on("error", () => {});
    await client.connect();
    await client.query("SELECT 1");
  } catch (e) {
    throw new BadRequest(
      connectionError("error creating database object: error verifying connection", e, c, [
        password,
      ]),
    );
  } finally {
    await client?.end().catch(() => {});
  }
}

/** The pool for one config plus what it was built from, so a changed config gets a new one. */
interface PoolEntry {
  pool: Pool;
  fingerprint: string;
}

function fingerprint(c: ConfigRecord): string {
  return JSON.stringify([
    c.connection_url,
    c.username,
    c.password,
    c.max_open_connections,
    c.max_connection_lifetime,
  ]);
}

/** One pool per config name, created lazily; all of them closed by `closeAll` (mount close). */
export class Pools {
  readonly #pools = new Map<string, PoolEntry>();

  get(name: string, c: ConfigRecord): Pool {
    const fp = fingerprint(c);
    const hit = this.#pools.get(name);
    if (hit && hit.fingerprint === fp) return hit.pool;
    if (hit) this.#end(name, hit);
    const options: Record<string, unknown> = {
      ...driverOptions(c, c.password),
      max: c.max_open_connections,
      idleTimeoutMillis: IDLE_TIMEOUT_MS,
    };
    if (c.max_connection_lifetime > 0) options.maxLifetimeSeconds = c.max_connection_lifetime;
    const pool = new pg.Pool(options) as Pool;
    // An idle connection dropped by the server is an 'error' event; unhandled it would crash the
    // process. The pool discards the client by itself.
    pool.on("error", () => {});
    this.#pools.set(name, { pool, fingerprint: fp });
    return pool;
  }

  /** Closes the named pool (config written, deleted, reset or rotated). */
  async close(name: string): Promise<void> {
    const hit = this.#pools.get(name);
    if (hit) await this.#end(name, hit);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#pools].map(([name, hit]) => this.#end(name, hit)));
  }

  #end(name: string, hit: PoolEntry): Promise<void> {
    if (this.#pools.get(name) === hit) this.#pools.delete(name);
    // Checked-out clients finish their work; the pool closes them when they are released.
    return hit.pool.end().catch(() => {});
  }
}

/**
 * A transaction PostgreSQL may have committed although the client saw it fail: the connection
 * broke (or went silent) once statements had been sent, and no error reply said they failed; or
 * the statements ended the transaction themselves (their own COMMIT) before one was refused.
 * Callers must treat what the statements do as possibly done.
 */
export class CommitUncertain extends InternalError {}

/**
 * SQLSTATE classes PostgreSQL ends a session with (FATAL: admin shutdown, lost connection,
 * idle timeout). Such a reply can race a commit, so it proves nothing about the transaction.
 */
function endsSession(code: string): boolean {
  return code.startsWith("08") || code.startsWith("57P") || code === "25P03";
}

/** An ERROR reply to a statement: PostgreSQL refused it, and the transaction cannot commit. */
function refusedByServer(e: unknown): boolean {
  return e instanceof pg.DatabaseError && !endsSession(String((e as { code?: unknown }).code));
}

/** A pooled connection; a failure to get one is a 500 whose text holds none of `secrets`. */
export async function connect(pool: Pool, secrets: string[]): Promise<PoolClient> {
  try {
    return await pool.connect();
  } catch (e) {
    throw new InternalError(`error connecting to the database: ${scrub(message(e), secrets)}`);
  }
}

/**
 * Runs `statements` (split and rendered) in one transaction on `client`. A failure becomes a 500
 * whose text holds none of `secrets`: a {@link CommitUncertain} when the statements may have
 * taken effect all the same.
 */
export async function transaction(
  client: Queryable,
  statements: string[],
  values: Record<string, string>,
  secrets: string[],
): Promise<void> {
  // Set from the first statement on, not only at COMMIT: a role's statements may commit by
  // themselves (their own COMMIT, or a procedure that does).
  let sent = false;
  // Set once a statement that ends the transaction was sent: an ERROR after it no longer undoes
  // what ran before it, and what ran after it committed alone.
  let ended = false;
  try {
    await client.query("BEGIN");
    for (const q of splitStatements(statements)) {
      sent = true;
      if (endsTransaction(q)) ended = true;
      await client.query(renderTemplate(q, values));
    }
    sent = true;
    await client.query("COMMIT");
  } catch (e) {
    const text = `error running statements: ${scrub(message(e), secrets)}`;
    if (refusedByServer(e)) {
      await client.query("ROLLBACK").catch(() => {});
      throw ended ? new CommitUncertain(text) : new InternalError(text);
    }
    // A broken connection cannot roll back; PostgreSQL aborts what it did not commit itself.
    if (sent) throw new CommitUncertain(text);
    throw new InternalError(text);
  }
}

/** Swallows a checked-out connection's socket error: the query it broke reports it instead. */
function ignoreError(): void {}

/** Pooled connections that already have {@link ignoreError} (the pool reuses them). */
const guarded = new WeakSet<PoolClient>();

/**
 * Runs `fn` on one pooled connection. A connection that saw an error is discarded rather than
 * returned to the pool; a non-HTTP error becomes a 500 scrubbed of `secrets`.
 */
export async function withConnection<T>(
  pool: Pool,
  secrets: string[],
  fn: (client: Queryable) => Promise<T>,
): Promise<T> {
  const client = await connect(pool, secrets);
  // The pool listens for errors on idle connections only, and node-postgres also raises a
  // checked-out one's lost connection as an 'error' event: unheard, an uncaught exception.
  if (!guarded.has(client)) {
    client.on("error", ignoreError);
    guarded.add(client);
  }
  let failed = false;
  try {
    return await fn(client);
  } catch (e) {
    failed = true;
    if (e instanceof HttpError) throw e;
    throw new InternalError(`database error: ${scrub(message(e), secrets)}`);
  } finally {
    client.release(failed);
  }
}

/** {@link transaction} on a pooled connection. */
export function runInTransaction(
  pool: Pool,
  statements: string[],
  values: Record<string, string>,
  secrets: string[],
): Promise<void> {
  return withConnection(pool, secrets, (c) => transaction(c, statements, values, secrets));
}

/** The role's OID, or null when no such role exists. */
export async function roleOid(pool: Queryable, name: string): Promise<number | null> {
  const r = await pool.query("SELECT oid FROM pg_roles WHERE rolname = $1", [name]);
  const oid = r.rows[0]?.oid;
  return oid === undefined ? null : Number(oid);
}

/**
 * Best effort: ends the sessions a revoked user still has open, since DROP ROLE leaves them
 * running. By OID, because a dropped role no longer has a name in pg_stat_activity. Needs
 * superuser or pg_signal_backend; without them revocation still removes the login and grants.
 */
export async function terminateSessions(pool: Queryable, oid: number): Promise<void> {
  await pool.query(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usesysid = $1 AND pid <> pg_backend_pid()",
    [oid],
  ).catch(() => {});
}

/**
 * Vault's default PostgreSQL revocation: revoke table, sequence, schema and database
 * privileges (not in a transaction, so one failure still removes what it can), then
 * `DROP ROLE IF EXISTS`.
 */
export async function defaultRevoke(pool: Queryable, name: string): Promise<void> {
  const user = quoteIdentifier(name);
  const schemas = await pool.query(
    `SELECT DISTINCT table_schema FROM information_schema.role_table_grants WHERE grantee = $1
     UNION SELECT DISTINCT table_schema FROM information_schema.role_column_grants WHERE grantee = $1`,
    [name],
  );
  const stmts: string[] = [];
  for (const row of schemas.rows) {
    const schema = quoteIdentifier(String(row.table_schema));
    stmts.push(`REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA ${schema} FROM ${user}`);
    stmts.push(`REVOKE USAGE ON SCHEMA ${schema} FROM ${user}`);
  }
  stmts.push(`REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM ${user}`);
  stmts.push(`REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public FROM ${user}`);
  stmts.push(`REVOKE USAGE ON SCHEMA public FROM ${user}`);
  const db = await pool.query("SELECT current_database() AS db");
  const dbName = db.rows[0]?.db;
  if (typeof dbName === "string") {
    stmts.push(`REVOKE CONNECT ON DATABASE ${quoteIdentifier(dbName)} FROM ${user}`);
  }
  let last: unknown = null;
  for (const q of stmts) {
    await pool.query(q).catch((e) => {
      last = e;
    });
  }
  if (last) throw last;
  await pool.query(`DROP ROLE IF EXISTS ${user}`);
}
