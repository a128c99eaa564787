/**
 * Literal root passwords written into `connection_url` (discouraged, as in Vault): wherever the
 * URL carries one, reads mask it whole, writes warn, and rotate-root refuses.
 */
import assert from "node:assert/strict";
import { call } from "../helpers/test_core.ts";
import { type Db, dbTest, rand } from "./database_fixture.ts";

const WARNING =
  "Password found in connection_url, use a templated url to enable root rotation and prevent read access to password information.";

async function writeLiteral(db: Db, url: string): Promise<void> {
  const r = await db.t.req("POST", "/v1/database/config/lit", {
    plugin_name: "postgresql-database-plugin",
    connection_url: url,
    // Set, so that rotate-root gets as far as the URL.
    username: db.root,
    password: db.rootPassword,
    allowed_roles: "*",
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.warnings, [WARNING]);
}

async function readUrl(db: Db): Promise<{ url: string; text: string }> {
  const r = await db.t.req("GET", "/v1/database/config/lit");
  assert.equal(r.status, 200, r.text);
  return { url: r.body.data.connection_details.connection_url, text: r.text };
}

async function assertNoRotation(db: Db): Promise<void> {
  const r = await db.t.req("POST", "/v1/database/rotate-root/lit", {});
  assert.equal(r.status, 400, r.text);
  assert.deepEqual(r.body.errors, [
    "unable to rotate root credentials: connection_url holds a literal password; use {{password}}",
  ]);
}

dbTest("config with the root password in the URL's query masks it on read", async (db) => {
  for (const key of ["password", "sslpassword"]) {
    const password = key === "password" ? db.rootPassword : `Key-${rand()}`;
    const url =
      `postgresql://127.0.0.1:5432/test?sslmode=disable&user=${db.root}&${key}=${password}&application_name=x`;
    await writeLiteral(db, url);
    const { url: shown, text } = await readUrl(db);
    assert.equal(
      shown,
      `postgresql://127.0.0.1:5432/test?sslmode=disable&user=${db.root}&${key}=*****&application_name=x`,
    );
    assert.ok(!text.includes(password), text);
    await assertNoRotation(db);
  }
});

dbTest("config with an unencoded '@' in the URL's password masks all of it", async (db) => {
  const secret = rand();
  const password = `Top@${secret}@99`;
  await db.admin.query(`ALTER ROLE "${db.root}" PASSWORD '${password}'`);
  // PostgreSQL accepts it as written: the last '@' ends the user info.
  await writeLiteral(db, `postgresql://${db.root}:${password}@127.0.0.1:5432/test?sslmode=disable`);
  const { url, text } = await readUrl(db);
  assert.equal(url, `postgresql://${db.root}:*****@127.0.0.1:5432/test?sslmode=disable`);
  assert.ok(!text.includes(secret), text);
  await assertNoRotation(db);
  // Templated in the query instead: nothing literal, nothing masked, rotation allowed.
  await call(db.t, "POST", "database/config/lit", {
    connection_url: "postgresql://127.0.0.1:5432/test?user={{username}}&password={{password}}",
    username: db.root,
    password,
  }, 204);
  assert.equal(
    (await readUrl(db)).url,
    "postgresql://127.0.0.1:5432/test?user={{username}}&password={{password}}",
  );
  await call(db.t, "POST", "database/rotate-root/lit", {}, 204);
});
