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
