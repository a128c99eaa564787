/**
 * How long a database login lives: VALID UNTIL follows the lease (the mount's tuned TTLs
 * included) with Vault's 5 s margin, and revocation follows the role as it is now.
 */
import assert from "node:assert/strict";
import { call, type Json } from "../helpers/test_core.ts";
import {
  configure,
  creds,
  type Db,
  dbTest,
  role,
  TEMPLATED_URL,
  validUntil,
} from "./database_fixture.ts";

/** The lease's expiry as core has it (Unix ms). */
async function leaseExpiry(db: Db, body: Json): Promise<number> {
  const l = await call(db.t, "PUT", "sys/leases/lookup", { lease_id: body.lease_id });
  return Date.parse(l.data.expire_time);
}

function ceilSecond(ms: number): number {
  return Math.ceil(ms / 1000) * 1000;
}

/**
 * Reads creds and checks VALID UNTIL: `ttl` seconds plus 5 s from the engine's clock read (made
 * while the request ran, so between `before` and `after`), rounded up, and after the lease ends.
 */
async function credsValidFor(db: Db, ttl: number): Promise<Json> {
  const before = Date.now();
  const body = await creds(db, "ro");
  const after = Date.now();
  assert.equal(body.lease_duration, ttl);
  const until = (await validUntil(db, body.data.username))!;
  const want = `${ceilSecond(before + ttl * 1000 + 5000)}..${
    ceilSecond(after + ttl * 1000 + 5000)
  }`;
  assert.ok(until >= ceilSecond(before + ttl * 1000 + 5000), `${until} not in ${want}`);
  assert.ok(until <= ceilSecond(after + ttl * 1000 + 5000), `${until} not in ${want}`);
  assert.ok(until > await leaseExpiry(db, body), "the login ends before its lease");
  return body;
}

dbTest("creds VALID UNTIL follows the mount's tuned TTLs with a 5 s margin", async (db) => {
  await configure(db);
  await call(db.t, "POST", "sys/mounts/database/tune", {
    default_lease_ttl: "30s",
    max_lease_ttl: "60s",
  }, 204);
  // No role TTLs: the mount's default.
  await role(db, "ro", { default_ttl: 0, max_ttl: 0 });
  await credsValidFor(db, 30);
  // A role default above the mount's max is cut to it.
  await role(db, "ro", { default_ttl: "1h" });
  await credsValidFor(db, 60);
  // The role's own max wins when lower.
  await role(db, "ro", { default_ttl: 0, max_ttl: "20s" });
  const body = await credsValidFor(db, 20);
  // A renewal capped at the lease's max moves VALID UNTIL to that max plus 5 s, rounded up.
  const renewed = await call(db.t, "PUT", "sys/leases/renew", {
    lease_id: body.lease_id,
    increment: "2h",
  });
  assert.ok(renewed.lease_duration <= 20, JSON.stringify(renewed));
  assert.equal(
    await validUntil(db, body.data.username),
    ceilSecond(await leaseExpiry(db, body) + 5000),
  );
});

dbTest("revoke runs the role's current revocation statements", async (db) => {
  await configure(db);
  await role(db, "custom", {
    revocation_statements: `REVOKE ALL ON "${db.schema}".no_such_table FROM "{{name}}"`,
  });
  const body = await creds(db, "custom");
  const broken = await db.t.req("PUT", "/v1/sys/leases/revoke", { lease_id: body.lease_id });
  assert.equal(broken.status, 500, broken.text);
  assert.notEqual(await validUntil(db, body.data.username), null);
  // Fixing the role unsticks the lease, as in Vault: the lease's copy is only a fallback.
  await role(db, "custom", {
    revocation_statements: `REVOKE ALL ON ALL TABLES IN SCHEMA "${db.schema}" FROM "{{name}}";
      REVOKE USAGE ON SCHEMA "${db.schema}" FROM "{{name}}"; DROP ROLE "{{name}}";`,
  });
  await call(db.t, "PUT", "sys/leases/revoke", { lease_id: body.lease_id }, 204);
  assert.equal(await validUntil(db, body.data.username), null);
});

dbTest(
  "revoke after the role moved to another connection drops the login where it was made",
  async (db) => {
    await configure(db, { allowed_roles: "*" });
    // The same server under another name, in another database: a login's grants live in the
    // database that made it, and DROP ROLE anywhere else is refused while they exist.
    await call(db.t, "POST", "database/config/other", {
      plugin_name: "postgresql-database-plugin",
      connection_url: TEMPLATED_URL.replace("/test?", "/postgres?"),
      username: db.root,
      password: db.rootPassword,
      allowed_roles: "*",
    }, 204);
    const elsewhere = {
      db_name: "other",
      creation_statements: `CREATE ROLE "{{name}}" WITH LOGIN VALID UNTIL '{{expiration}}'`,
    };
    await role(db, "ro");
    const moved = await creds(db, "ro");
    // Repointed, with statements written for the other database: neither applies to this login.
    await role(db, "ro", { ...elsewhere, revocation_statements: `DROP ROLE "{{name}}"` });
    await call(db.t, "PUT", "sys/leases/revoke", { lease_id: moved.lease_id }, 204);
    assert.equal(await validUntil(db, moved.data.username), null);

    // Deleted and made again on the other connection.
    await call(db.t, "DELETE", "database/roles/ro", undefined, 204);
    await role(db, "ro");
    const recreated = await creds(db, "ro");
    await call(db.t, "DELETE", "database/roles/ro", undefined, 204);
    await role(db, "ro", elsewhere);
    await call(db.t, "PUT", "sys/leases/revoke", { lease_id: recreated.lease_id }, 204);
    assert.equal(await validUntil(db, recreated.data.username), null);
  },
);
