/**
 * What the database engine's integration tests share: a real core with a `database/` mount, the
 * real PostgreSQL on 127.0.0.1:5432 with a CREATEROLE root user and a schema per test (dropped
 * afterwards, with every login handed out), and the fault-injecting proxy of database_proxy.ts.
 */
import pg from "pg";
import { ENGINES } from "../../engines/registry.ts";
import type { Engine, LeaseInfo, StorageView } from "../../engines/sdk.ts";
import type { ConfigRecord } from "../../engines/database/store.ts";
import { call, type Json, startTestCore, type TestCore } from "../helpers/test_core.ts";
import { PgProxy } from "./database_proxy.ts";

export const PG = "postgresql://postgres@127.0.0.1:5432/test?sslmode=disable";
export const TEMPLATED_URL =
  "postgresql://{{username}}:{{password}}@127.0.0.1:5432/test?sslmode=disable";

export interface Db {
  /** A superuser connection, for setup and for looking behind the engine's back. */
  admin: pg.Client;
  root: string;
  rootPassword: string;
  schema: string;
  t: TestCore;
  /** Every username handed out, dropped at the end whatever happened. */
  issued: string[];
  /** Run after the core is closed (its pools gone), last added first. */
  cleanups: (() => Promise<void>)[];
}

export function rand(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 10);
}

export async function withDb(fn: (db: Db) => Promise<void>): Promise<void> {
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  const id = rand();
  const root = `sh_test_root_${id}`;
  const rootPassword = `Root-${rand()}-${rand()}`;
  const schema = `sh_test_${id}`;
  await admin.query(`CREATE ROLE "${root}" LOGIN CREATEROLE PASSWORD '${rootPassword}'`);
  await admin.query(`CREATE SCHEMA "${schema}" AUTHORIZATION "${root}"`);
  await admin.query(`CREATE TABLE "${schema}".items (id int)`);
  await admin.query(`ALTER TABLE "${schema}".items OWNER TO "${root}"`);
  await admin.query(`INSERT INTO "${schema}".items VALUES (42)`);
  const t = await startTestCore();
  const db: Db = { admin, root, rootPassword, schema, t, issued: [], cleanups: [] };
  try {
    await call(t, "POST", "sys/mounts/database", { type: "database" }, 204);
    await fn(db);
  } finally {
    await t.close();
    for (const c of db.cleanups.reverse()) await c();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    for (const u of db.issued) await admin.query(`DROP ROLE IF EXISTS "${u}"`);
    await admin.query(`DROP ROLE IF EXISTS "${root}"`);
    await admin.end();
  }
}

export function dbTest(name: string, fn: (db: Db) => Promise<void>): void {
  Deno.test(`database ${name}`, () => withDb(fn));
}

export async function configure(db: Db, extra: Record<string, unknown> = {}): Promise<void> {
  await call(db.t, "POST", "database/config/pg", {
    plugin_name: "postgresql-database-plugin",
    connection_url: TEMPLATED_URL,
    username: db.root,
    password: db.rootPassword,
    allowed_roles: "ro,custom",
    ...extra,
  }, 204);
}

export function creationStatements(db: Db): string {
  return `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';
    GRANT USAGE ON SCHEMA "${db.schema}" TO "{{name}}";
    GRANT SELECT ON ALL TABLES IN SCHEMA "${db.schema}" TO "{{name}}";`;
}

export async function role(
  db: Db,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await call(db.t, "POST", `database/roles/${name}`, {
    db_name: "pg",
    creation_statements: creationStatements(db),
    default_ttl: "1h",
    max_ttl: "24h",
    ...extra,
  }, 204);
}

export async function creds(db: Db, roleName: string): Promise<Json> {
  const body = await call(db.t, "GET", `database/creds/${roleName}`);
  db.issued.push(body.data.username);
  return body;
}

/** Logs in as the issued user and reads the table its role was granted. */
export async function loginWorks(db: Db, username: string, password: string): Promise<number> {
  const c = new pg.Client({
    host: "127.0.0.1",
    port: 5432,
    database: "test",
    user: username,
    password,
  });
  await c.connect();
  try {
    const r = await c.query(`SELECT id FROM "${db.schema}".items`);
    return r.rows[0].id;
  } finally {
    await c.end();
  }
}

export async function validUntil(db: Db, username: string): Promise<number | null> {
  const r = await db.admin.query("SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1", [
    username,
  ]);
  if (r.rows.length === 0) return null;
  return (r.rows[0].rolvaliduntil as Date).getTime();
}

/** The logins whose names start with `prefix`, as PostgreSQL has them. */
export async function loginsLike(db: Db, prefix: string): Promise<string[]> {
  const r = await db.admin.query(
    "SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) ORDER BY rolname",
    [prefix],
  );
  return r.rows.map((row: { rolname: string }) => row.rolname);
}

export async function rootPasswordHash(db: Db): Promise<string> {
  const r = await db.admin.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [
    db.root,
  ]);
  return r.rows[0].rolpassword as string;
}

async function mountView(db: Db): Promise<{ uuid: string; storage: StorageView }> {
  const mounts = await call(db.t, "GET", "sys/mounts");
  const uuid = mounts.data["database/"].uuid as string;
  return { uuid, storage: db.t.core.barrier.view(`logical/${uuid}/`) as StorageView };
}

/** A second engine instance on the mount's own (encrypted) storage: what core's lease manager calls. */
export async function mountEngine(db: Db): Promise<Engine> {
  const { uuid, storage } = await mountView(db);
  return ENGINES.database!({
    storage,
    mount: { path: "database/", uuid, type: "database", options: {} },
    now: Date.now,
  });
}

/** The connection's record as the engine stored it (through the barrier). */
export async function storedConfig(db: Db, name: string): Promise<ConfigRecord | null> {
  const { storage } = await mountView(db);
  const raw = await storage.get(`config/${name}`);
  return raw ? JSON.parse(new TextDecoder().decode(raw)) as ConfigRecord : null;
}

export function lease(body: Json, roleName: string, internal?: Record<string, unknown>): LeaseInfo {
  const now = Date.now();
  return {
    leaseId: `database/creds/${roleName}/x`,
    path: `creds/${roleName}`,
    internal: internal ?? { username: body.data.username, role: roleName, db_name: "pg" },
    issueTime: now,
    expireTime: now + 3600_000,
    maxExpireTime: now + 86400_000,
  };
}

/** A password-checking, COMMIT-cutting proxy, closed after the core (whose pools use it). */
export function pgProxy(db: Db): PgProxy {
  const proxy = new PgProxy(db.admin);
  db.cleanups.push(() => proxy.close());
  return proxy;
}
