/**
 * The database engine through the real core (HTTP, ACL, audit, barrier) against the real
 * PostgreSQL on 127.0.0.1:5432: each test creates its own CREATEROLE root user and a schema it
 * owns, and drops them (and every login it was handed) at the end (database_fixture.ts).
 */
import assert from "node:assert/strict";
import { call } from "../helpers/test_core.ts";
import {
  configure,
  creationStatements,
  creds,
  dbTest,
  lease,
  loginWorks,
  mountEngine,
  rand,
  role,
  TEMPLATED_URL,
  validUntil,
} from "./database_fixture.ts";

dbTest("config verifies the connection and its errors never carry the password", async (db) => {
  const secret = `Sekrit-${rand()}`;
  // An unknown user: refused at verification, 400, and the password is nowhere in the reply.
  let r = await db.t.req("POST", "/v1/database/config/bad", {
    plugin_name: "postgresql-database-plugin",
    connection_url: TEMPLATED_URL,
    username: `sh_nouser_${rand()}`,
    password: secret,
  });
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.errors[0], /error verifying connection: .*does not exist/);
  assert.ok(!r.text.includes(secret), r.text);
  // A literal password in the URL, and nothing listening: still no password in the error.
  r = await db.t.req("POST", "/v1/database/config/bad", {
    plugin_name: "postgresql-database-plugin",
    connection_url: `postgresql://root:${secret}@127.0.0.1:1/test?sslmode=disable`,
  });
  assert.equal(r.status, 400, r.text);
  assert.ok(!r.text.includes(secret), r.text);
  // Nothing was stored by the failed writes.
  assert.equal((await db.t.req("GET", "/v1/database/config/bad")).status, 404);
  // verify_connection=false stores it unchecked.
  await call(db.t, "POST", "database/config/unchecked", {
    plugin_name: "postgresql-database-plugin",
    connection_url: TEMPLATED_URL.replace("5432", "1"),
    username: "nobody",
    password: secret,
    verify_connection: false,
  }, 204);
  await call(db.t, "DELETE", "database/config/unchecked", undefined, 204);
});

dbTest("config read shows the connection without the password; list and delete", async (db) => {
  await configure(db);
  const r = await db.t.req("GET", "/v1/database/config/pg");
  assert.equal(r.status, 200, r.text);
  assert.ok(!r.text.includes(db.rootPassword), r.text);
  assert.equal(r.body.data.plugin_name, "postgresql-database-plugin");
  assert.deepEqual(r.body.data.allowed_roles, ["ro", "custom"]);
  assert.equal(r.body.data.connection_details.connection_url, TEMPLATED_URL);
  assert.equal(r.body.data.connection_details.username, db.root);
  assert.equal(r.body.data.connection_details.max_open_connections, 4);
  assert.equal(r.body.data.connection_details.password, undefined);
  // A write merges: changing allowed_roles keeps (and re-verifies with) the stored password.
  await call(db.t, "POST", "database/config/pg", { allowed_roles: ["*"] }, 204);
  assert.deepEqual((await call(db.t, "GET", "database/config/pg")).data.allowed_roles, ["*"]);
  assert.deepEqual((await call(db.t, "LIST", "database/config")).data.keys, ["pg"]);
  await call(db.t, "DELETE", "database/config/pg", undefined, 204);
  assert.equal((await db.t.req("GET", "/v1/database/config/pg")).status, 404);
  assert.equal((await db.t.req("LIST", "/v1/database/config")).status, 404);
});

dbTest("bad input is a 400 naming the field", async (db) => {
  const cases: [string, unknown, RegExp][] = [
    [
      "config/x",
      { plugin_name: "mysql-database-plugin", connection_url: TEMPLATED_URL },
      /plugin_name: unsupported plugin "mysql-database-plugin"/,
    ],
    ["config/x", { connection_url: TEMPLATED_URL }, /plugin_name: required/],
    ["config/x", { plugin_name: "postgresql-database-plugin" }, /connection_url: required/],
    [
      "config/x",
      { plugin_name: "postgresql-database-plugin", connection_url: "mysql://h/db" },
      /connection_url: must be a postgresql:\/\/ URL/,
    ],
    ["config/x", { max_open_connections: "many" }, /max_open_connections: invalid integer/],
    ["config/x", { max_open_connections: 0 }, /max_open_connections: must be at least 1/],
    ["config/x", { allowed_roles: 5 }, /allowed_roles: must be a list of strings/],
    ["config/x", { verify_connection: "perhaps" }, /verify_connection: invalid boolean/],
    ["config/x", { username_template: "{{.RoleName}}" }, /username_template is not supported/],
    ["config/bad name", { plugin_name: "postgresql-database-plugin" }, /invalid connection name/],
    ["roles/r", { creation_statements: "SELECT 1" }, /db_name: required/],
    ["roles/r", { db_name: "pg" }, /creation_statements: required/],
    [
      "roles/r",
      { db_name: "pg", creation_statements: 7 },
      /creation_statements: must be a string or a list of strings/,
    ],
    [
      "roles/r",
      { db_name: "pg", creation_statements: "SELECT 1", default_ttl: "soon" },
      /default_ttl: invalid duration/,
    ],
    ["roles/r", {
      db_name: "pg",
      creation_statements: "SELECT 1",
      default_ttl: "2h",
      max_ttl: "1h",
    }, /default_ttl: must not be greater than max_ttl/],
  ];
  for (const [path, body, want] of cases) {
    const r = await db.t.req("POST", `/v1/database/${path.replace(" ", "%20")}`, body);
    assert.equal(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.text}`);
    assert.match(r.body.errors.join("; "), want);
  }
});

dbTest("roles: write, read, merge, list, delete", async (db) => {
  await role(db, "ro", { revocation_statements: ['DROP ROLE "{{name}}";'] });
  const got = (await call(db.t, "GET", "database/roles/ro")).data;
  assert.equal(got.db_name, "pg");
  assert.equal(got.default_ttl, 3600);
  assert.equal(got.max_ttl, 86400);
  assert.deepEqual(got.creation_statements, [creationStatements(db)]);
  assert.deepEqual(got.revocation_statements, ['DROP ROLE "{{name}}";']);
  assert.deepEqual(got.renew_statements, []);
  assert.equal(got.credential_type, "password");
  await call(db.t, "POST", "database/roles/ro", { default_ttl: 60 }, 204);
  const merged = (await call(db.t, "GET", "database/roles/ro")).data;
  assert.equal(merged.default_ttl, 60);
  assert.deepEqual(merged.creation_statements, [creationStatements(db)]);
  await role(db, "custom");
  assert.deepEqual((await call(db.t, "LIST", "database/roles")).data.keys, ["custom", "ro"]);
  await call(db.t, "DELETE", "database/roles/ro", undefined, 204);
  assert.equal((await db.t.req("GET", "/v1/database/roles/ro")).status, 404);
});

dbTest("creds creates a working login, refused for roles the config does not allow", async (db) => {
  await configure(db);
  await role(db, "ro");
  await role(db, "denied");
  await call(db.t, "PUT", "sys/audit/file", {
    type: "file",
    options: { file_path: `${db.t.dir}/audit.log` },
  }, 204);
  const before = Date.now();
  const body = await creds(db, "ro");
  const { username, password } = body.data;
  assert.match(username, /^v-token-ro-[a-z0-9]{20}-\d{10}$/);
  assert.ok(password.length >= 24 && /[a-z]/.test(password) && /[A-Z]/.test(password));
  assert.ok(/[0-9]/.test(password) && password.includes("-"));
  assert.equal(await loginWorks(db, username, password), 42);
  // VALID UNTIL is the role's default_ttl from now plus 5 s (whole seconds, rounded up).
  const until = (await validUntil(db, username))!;
  assert.ok(until >= before + 3605_000 && until <= Date.now() + 3606_000, `${until}`);
  // The password was hashed by PostgreSQL, and the root password never left SecretHub's storage.
  const hash = await db.admin.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [
    username,
  ]);
  assert.match(hash.rows[0].rolpassword, /^SCRAM-SHA-256\$/);
  // Neither password is in the libSQL files or the audit log in plaintext.
  for (const f of [db.t.dbFile, `${db.t.dbFile}-wal`, `${db.t.dir}/audit.log`]) {
    const text = await Deno.readTextFile(f).catch(() => "");
    assert.ok(!text.includes(password), `issued password in ${f}`);
    assert.ok(!text.includes(db.rootPassword), `root password in ${f}`);
  }
  // Not in allowed_roles ("ro,custom"): refused, and no login created.
  const r = await db.t.req("GET", "/v1/database/creds/denied");
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.errors[0], /"denied" is not an allowed role/);
  assert.equal((await db.t.req("GET", "/v1/database/creds/nope")).status, 400);
  // A failing creation statement rolls back (no role left behind) and reports no password.
  await role(db, "custom", {
    creation_statements: [
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}'`,
      `GRANT SELECT ON no_such_table TO "{{name}}"`,
    ],
  });
  const failed = await db.t.req("GET", "/v1/database/creds/custom");
  assert.equal(failed.status, 500, failed.text);
  assert.match(failed.body.errors[0], /no_such_table/);
  // Driver errors quoting a password (here the generated one) are scrubbed.
  await role(db, "custom", { creation_statements: `SELECT '{{password}}'::int` });
  const quoted = await db.t.req("GET", "/v1/database/creds/custom");
  assert.equal(quoted.status, 500, quoted.text);
  assert.match(quoted.body.errors[0], /invalid input syntax for type integer: "\*\*\*\*\*"/);
  const leftover = await db.admin.query(
    "SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'v-token-custom-%'",
  );
  assert.equal(leftover.rows[0].n, 0);
});

dbTest("secrets.renew moves VALID UNTIL; revoke drops the login and is idempotent", async (db) => {
  await configure(db);
  await role(db, "ro");
  const engine = await mountEngine(db);
  try {
    const body = await creds(db, "ro");
    const { username, password } = body.data;
    const first = (await validUntil(db, username))!;
    const target = Date.now() + 5 * 3600_000;
    await engine.secrets!.renew!(lease(body, "ro"), target);
    const renewed = (await validUntil(db, username))!;
    assert.notEqual(renewed, first);
    assert.equal(renewed, Math.ceil((target + 5000) / 1000) * 1000);
    // Revocation works from the lease alone, after the role is gone.
    await call(db.t, "DELETE", "database/roles/ro", undefined, 204);
    await engine.secrets!.revoke(lease(body, "ro"));
    assert.equal(await validUntil(db, username), null);
    await assert.rejects(loginWorks(db, username, password));
    await engine.secrets!.revoke(lease(body, "ro"));
    // Custom statements that are not idempotent themselves: the second revoke still succeeds.
    await role(db, "custom", {
      revocation_statements: `REVOKE ALL ON ALL TABLES IN SCHEMA "${db.schema}" FROM "{{name}}";
        REVOKE USAGE ON SCHEMA "${db.schema}" FROM "{{name}}"; DROP ROLE "{{name}}";`,
      renew_statements: `ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}'`,
    });
    const c = await creds(db, "custom");
    const internal = {
      username: c.data.username,
      role: "custom",
      db_name: "pg",
      revocation_statements: [],
      renew_statements: [],
    };
    const target2 = Date.now() + 7200_000;
    await engine.secrets!.renew!(lease(c, "custom", internal), target2);
    assert.equal(
      await validUntil(db, c.data.username),
      Math.ceil((target2 + 5000) / 1000) * 1000,
    );
    await engine.secrets!.revoke(lease(c, "custom", internal));
    assert.equal(await validUntil(db, c.data.username), null);
    await engine.secrets!.revoke(lease(c, "custom", internal));
  } finally {
    await engine.close!();
  }
});

dbTest("rotate-root and reset: the root password changes and creds keep working", async (db) => {
  await configure(db);
  await role(db, "ro");
  const hash = async () =>
    (await db.admin.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [db.root]))
      .rows[0].rolpassword as string;
  const before = await hash();
  await creds(db, "ro"); // a pool exists with the old password
  await call(db.t, "POST", "database/rotate-root/pg", {}, 204);
  assert.notEqual(await hash(), before);
  const c = await creds(db, "ro");
  assert.equal(await loginWorks(db, c.data.username, c.data.password), 42);
  await call(db.t, "POST", "database/reset/pg", {}, 204);
  await creds(db, "ro");
  assert.equal((await db.t.req("POST", "/v1/database/rotate-root/none", {})).status, 400);
  // A failed rotation keeps the old password and reports no password.
  await call(db.t, "POST", "database/config/pg", {
    root_rotation_statements: [`SELECT '{{password}}'::int`],
  }, 204);
  const rotated = await hash();
  const r = await db.t.req("POST", "/v1/database/rotate-root/pg", {});
  assert.equal(r.status, 500, r.text);
  assert.match(r.body.errors[0], /invalid input syntax for type integer: "\*\*\*\*\*"/);
  assert.equal(await hash(), rotated);
  await call(db.t, "POST", "database/reset/pg", {}, 204);
});

dbTest("creds through core's lease manager: lease_id, renew and sys/leases/revoke", async (db) => {
  await configure(db);
  await role(db, "ro", { default_ttl: "10m" });
  const body = await creds(db, "ro");
  const { username } = body.data;
  assert.match(body.lease_id, /^database\/creds\/ro\/.+/);
  assert.equal(body.renewable, true);
  assert.equal(body.lease_duration, 600);
  const first = (await validUntil(db, username))!;
  const renewed = await call(db.t, "PUT", "sys/leases/renew", {
    lease_id: body.lease_id,
    increment: "2h",
  });
  assert.equal(renewed.lease_duration, 7200);
  assert.ok((await validUntil(db, username))! > first + 3600_000);
  await call(db.t, "PUT", "sys/leases/revoke", { lease_id: body.lease_id }, 204);
  assert.equal(await validUntil(db, username), null);
});

dbTest(
  "credentials go when the token that read them expires, and cannot be renewed",
  async (db) => {
    await configure(db);
    await role(db, "ro");
    await call(db.t, "PUT", "sys/policies/acl/dbreader", {
      policy: `path "database/creds/*" { capabilities = ["read"] }`,
    }, 204);
    const made = await call(db.t, "POST", "auth/token/create", {
      policies: ["dbreader"],
      ttl: "2s",
    });
    const tok = made.auth.client_token;
    const r = await db.t.req("GET", "/v1/database/creds/ro", undefined, tok);
    assert.equal(r.status, 200, r.text);
    db.issued.push(r.body.data.username);
    assert.equal(await loginWorks(db, r.body.data.username, r.body.data.password), 42);
    const end = Date.now() + 8000;
    while ((await db.t.req("GET", "/v1/auth/token/lookup-self", undefined, tok)).status !== 403) {
      assert.ok(Date.now() < end, "the token never expired");
      await new Promise((res) => setTimeout(res, 100));
    }
    // No tidy runs in the test core: only the token's expiry can revoke the credentials.
    const renew = await db.t.req("PUT", "/v1/sys/leases/renew", { lease_id: r.body.lease_id });
    assert.equal(renew.status, 400, renew.text);
    while (await validUntil(db, r.body.data.username) !== null) {
      assert.ok(Date.now() < end, "the credentials outlived their token");
      await new Promise((res) => setTimeout(res, 100));
    }
  },
);
