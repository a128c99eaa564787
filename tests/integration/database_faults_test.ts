/**
 * The database engine when PostgreSQL's answer is lost: a proxy (database_fixture.ts) lets a
 * COMMIT through and cuts the connection once PostgreSQL has answered it, so the change is made
 * but SecretHub cannot know. Real core, real PostgreSQL, real network failure.
 */
import assert from "node:assert/strict";
import { call } from "../helpers/test_core.ts";
import {
  configure,
  creds,
  dbTest,
  loginsLike,
  loginWorks,
  pgProxy,
  rand,
  role,
  rootPasswordHash,
  storedConfig,
  TEMPLATED_URL,
} from "./database_fixture.ts";

dbTest(
  "rotate-root cut after COMMIT keeps the new password and settles on next use",
  async (db) => {
    const proxy = pgProxy(db);
    await configure(db, { connection_url: proxy.url(TEMPLATED_URL) });
    await role(db, "ro");
    const before = await rootPasswordHash(db);
    proxy.arm();
    const r = await db.t.req("POST", "/v1/database/rotate-root/pg", {});
    assert.equal(proxy.cuts, 1);
    assert.equal(r.status, 500, r.text);
    assert.notEqual(await rootPasswordHash(db), before, "PostgreSQL did not take the new password");
    const kept = (await storedConfig(db, "pg"))!;
    assert.equal(kept.password, db.rootPassword);
    assert.ok(kept.pending_password, "the new password was discarded");
    // The next use finds the old password refused and the pending one accepted, and keeps it.
    const c = await creds(db, "ro");
    assert.equal(await loginWorks(db, c.data.username, c.data.password), 42);
    const settled = (await storedConfig(db, "pg"))!;
    assert.equal(settled.pending_password, undefined);
    assert.equal(settled.password, kept.pending_password);
    assert.match(
      r.body.errors[0],
      /^root rotation outcome unknown: error running statements: .+; the next use of "pg" keeps whichever of the old and new password PostgreSQL accepts$/,
    );
    assert.ok(!r.text.includes(kept.pending_password!) && !r.text.includes(db.rootPassword));
    // Rotation works again from the settled password.
    await call(db.t, "POST", "database/rotate-root/pg", {}, 204);
    await creds(db, "ro");
  },
);

dbTest("rotate-root that fails before its statements ran keeps no pending password", async (db) => {
  await configure(db);
  const hash = await rootPasswordHash(db);
  // Nothing listens on port 1: the rotation never reached PostgreSQL.
  await call(db.t, "POST", "database/config/pg", {
    connection_url: TEMPLATED_URL.replace("5432", "1"),
    verify_connection: false,
  }, 204);
  let r = await db.t.req("POST", "/v1/database/rotate-root/pg", {});
  assert.equal(r.status, 500, r.text);
  assert.match(r.body.errors[0], /^error connecting to the database: /);
  assert.equal((await storedConfig(db, "pg"))!.pending_password, undefined);
  // PostgreSQL refused the statement: the rotation certainly did not happen.
  await call(db.t, "POST", "database/config/pg", {
    connection_url: TEMPLATED_URL,
    root_rotation_statements: [
      `ALTER ROLE "{{username}}" WITH PASSWORD '{{password}}'`,
      "SELECT 1/0",
    ],
  }, 204);
  r = await db.t.req("POST", "/v1/database/rotate-root/pg", {});
  assert.equal(r.status, 500, r.text);
  assert.match(r.body.errors[0], /^error running statements: division by zero$/);
  const stored = (await storedConfig(db, "pg"))!;
  assert.equal(stored.pending_password, undefined);
  assert.equal(stored.password, db.rootPassword);
  assert.equal(await rootPasswordHash(db), hash);
});

dbTest("creds cut after COMMIT revokes the login it may have made", async (db) => {
  const proxy = pgProxy(db);
  await configure(db, { connection_url: proxy.url(TEMPLATED_URL), allowed_roles: "*" });
  const name = `cut${rand().slice(0, 5)}`;
  await role(db, name);
  proxy.arm();
  const r = await db.t.req("GET", `/v1/database/creds/${name}`);
  assert.equal(proxy.cuts, 1);
  assert.equal(r.status, 500, r.text);
  const left = await loginsLike(db, `v-token-${name}-`);
  db.issued.push(...left);
  assert.deepEqual(left, [], "the login outlived the failed request");
  assert.match(
    r.body.errors[0],
    /^error running statements: .+; the login may have been created, and was revoked$/,
  );
  // The mount still works.
  await creds(db, name);
});

dbTest("engine connections carry a statement timeout below the request timeout", async (db) => {
  await configure(db);
  // The setting comes back in PostgreSQL's own error text.
  await role(db, "custom", {
    creation_statements: `SELECT current_setting('statement_timeout')::int`,
  });
  const r = await db.t.req("GET", "/v1/database/creds/custom");
  assert.equal(r.status, 500, r.text);
  assert.match(r.body.errors[0], /invalid input syntax for type integer: "1min"/);
});

dbTest("creds whose statements COMMIT by themselves and then fail revoke the login", async (db) => {
  await configure(db, { allowed_roles: "*" });
  const create =
    `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'`;
  const failing = `GRANT SELECT ON "${db.schema}".no_such_table TO "{{name}}"`;
  const cases: [string[], RegExp][] = [
    // The login is committed before the failure: gone only if SecretHub revokes it.
    [[create, "COMMIT", failing], /; the login may have been created, and was revoked$/],
    [[`${create}; end;`, failing], /; the login may have been created, and was revoked$/],
    // Refused before the COMMIT was sent: a clean rollback, as without one.
    [[create, failing, "COMMIT"], /no_such_table" does not exist$/],
  ];
  for (const [statements, want] of cases) {
    const name = `own${rand().slice(0, 5)}`;
    await role(db, name, { creation_statements: statements });
    const r = await db.t.req("GET", `/v1/database/creds/${name}`);
    assert.equal(r.status, 500, r.text);
    const left = await loginsLike(db, `v-token-${name}-`);
    db.issued.push(...left);
    assert.deepEqual(left, [], `${statements.join("; ")}: the login outlived the failed request`);
    assert.match(r.body.errors[0], /^error running statements: relation ".+" does not exist/);
    assert.match(r.body.errors[0], want);
  }
});

dbTest("config write after a rotation cut after COMMIT settles the password first", async (db) => {
  const proxy = pgProxy(db);
  await configure(db, { connection_url: proxy.url(TEMPLATED_URL) });
  await role(db, "ro");
  proxy.arm();
  assert.equal((await db.t.req("POST", "/v1/database/rotate-root/pg", {})).status, 500);
  assert.equal(proxy.cuts, 1);
  const kept = (await storedConfig(db, "pg"))!;
  assert.ok(kept.pending_password, "the new password was discarded");
  // Unchecked, the write makes no connection and leaves the rotation undecided.
  await call(db.t, "POST", "database/config/pg", { verify_connection: false }, 204);
  assert.equal((await storedConfig(db, "pg"))!.pending_password, kept.pending_password);
  // Verified, it keeps the password PostgreSQL accepts (the new one), not the stale one.
  await call(db.t, "POST", "database/config/pg", { allowed_roles: "ro,other" }, 204);
  const settled = (await storedConfig(db, "pg"))!;
  assert.equal(settled.pending_password, undefined);
  assert.equal(settled.password, kept.pending_password);
  assert.deepEqual(settled.allowed_roles, ["ro", "other"]);
  const c = await creds(db, "ro");
  assert.equal(await loginWorks(db, c.data.username, c.data.password), 42);
});

dbTest(
  "rotate-root whose statements COMMIT by themselves and then fail keeps both passwords",
  async (db) => {
    const proxy = pgProxy(db);
    await configure(db, {
      connection_url: proxy.url(TEMPLATED_URL),
      root_rotation_statements: [
        `ALTER ROLE "{{username}}" WITH PASSWORD '{{password}}'`,
        "COMMIT",
        "SELECT 1/0",
      ],
    });
    await role(db, "ro");
    const before = await rootPasswordHash(db);
    const r = await db.t.req("POST", "/v1/database/rotate-root/pg", {});
    assert.equal(r.status, 500, r.text);
    assert.match(r.body.errors[0], /^root rotation outcome unknown: .*division by zero/);
    assert.notEqual(await rootPasswordHash(db), before, "PostgreSQL did not take the new password");
    // Dropping the new password would have locked SecretHub out; the next use keeps it.
    const c = await creds(db, "ro");
    assert.equal(await loginWorks(db, c.data.username, c.data.password), 42);
    assert.equal((await storedConfig(db, "pg"))!.pending_password, undefined);
  },
);
