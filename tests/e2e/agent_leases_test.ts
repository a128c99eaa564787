/**
 * The agent with dynamic secrets, end to end: core and agent as separate processes, the database
 * engine against the real PostgreSQL on 127.0.0.1:5432. The agent renders credentials from
 * `database/creds/app`, keeps their lease alive over the link, and when core revokes the lease
 * it gets a `lease:revoked` push, reads new credentials and re-renders.
 */
import assert from "node:assert/strict";
import pg from "pg";
import {
  AGENT_POLICY,
  type AgentProc,
  type CoreProc,
  setupAgentRole,
  startAgent,
  startCore,
  waitFor,
} from "../helpers/agent_env.ts";
import { call } from "../helpers/server_process.ts";

const PG = "postgresql://postgres@127.0.0.1:5432/test?sslmode=disable";

async function must(core: CoreProc, method: string, path: string, body?: unknown) {
  const r = await call(core.url, method, `/v1/${path}`, body, core.rootToken);
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

const readText = (f: string) => Deno.readTextFile(f).catch(() => "");
const field = (text: string, name: string) =>
  text.match(new RegExp(`^${name}=(.*)$`, "m"))?.[1] ?? "";
const userIn = (text: string) => field(text, "USER");
const longIn = (text: string) => field(text, "LONG");

Deno.test("agent: database credentials are rendered, their lease renewed, and replaced when core revokes it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-agent-leases-" });
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  const root = `sh_test_agent_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const rootPassword = crypto.randomUUID();
  await admin.query(`CREATE ROLE "${root}" LOGIN CREATEROLE PASSWORD '${rootPassword}'`);
  let core: CoreProc | null = null;
  let agent: AgentProc | null = null;
  const validUntil = async (user: string): Promise<number | null> => {
    const r = await admin.query(`SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1`, [user]);
    return r.rows.length ? new Date(r.rows[0].rolvaliduntil).getTime() : null;
  };
  try {
    core = await startCore(`${dir}/core`);
    const role = await setupAgentRole(core);
    await must(core, "PUT", "sys/policies/acl/edge", {
      policy: AGENT_POLICY + `path "database/creds/*" { capabilities = ["read"] }\n`,
    });
    await must(core, "POST", "sys/mounts/database", { type: "database" });
    await must(core, "POST", "database/config/pg", {
      plugin_name: "postgresql-database-plugin",
      connection_url: "postgresql://{{username}}:{{password}}@127.0.0.1:5432/test?sslmode=disable",
      username: root,
      password: rootPassword,
      allowed_roles: "app,long",
    });
    // "app" renews every 2 s; "long" would not be renewed for 40 s, so a quick re-render of it
    // can only come from a push.
    for (const [name, ttl] of [["app", "5s"], ["long", "1m"]]) {
      await must(core, "POST", `database/roles/${name}`, {
        db_name: "pg",
        creation_statements:
          `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
        default_ttl: ttl,
        max_ttl: "1m",
      });
    }
    const dest = `${dir}/out/db.env`;
    await Deno.mkdir(`${dir}/out`);
    agent = await startAgent(`${dir}/agent`, {
      cores: [core],
      roleId: role.roleId,
      secretId: await role.secretId(),
      config: {
        templates: [{
          contents: `USER={{ secret "database/creds/app" "username" }}\n` +
            `PASS={{ secret "database/creds/app" "password" }}\n` +
            `LONG={{ secret "database/creds/long" "username" }}\n`,
          destination: dest,
        }],
      },
    });

    await waitFor(async () => userIn(await readText(dest)) !== "", 15_000, "first render");
    const first = userIn(await readText(dest));
    const issuedUntil = await validUntil(first);
    assert.ok(issuedUntil, `${first} exists in PostgreSQL`);

    // The lease is 5 s: without renewals core would drop the login at its expiry. The agent
    // renews at two thirds, so well past 5 s the login is still there, valid for longer.
    await waitFor(
      async () => ((await validUntil(first)) ?? 0) > issuedUntil!,
      10_000,
      "VALID UNTIL moved by a renewal",
    );
    await new Promise((r) => setTimeout(r, 5_500));
    assert.ok(await validUntil(first), "renewed login outlived its first TTL");
    assert.equal(userIn(await readText(dest)), first, "no re-render while the lease lives");

    // Core revokes a lease: the login is dropped and the agent, told so by a push (its own
    // renewal of this lease is 40 s away), renders new credentials.
    const long1 = longIn(await readText(dest));
    assert.ok(await validUntil(long1));
    await must(core, "PUT", "sys/leases/revoke-prefix/database/creds/long", {});
    await waitFor(
      async () => {
        const u = longIn(await readText(dest));
        return u !== "" && u !== long1;
      },
      8_000,
      "re-render with new credentials",
    );
    const long2 = longIn(await readText(dest));
    assert.equal(await validUntil(long1), null, "revoked login is gone");
    assert.ok(await validUntil(long2), "new login exists");

    // Suspending the agent revokes its link token, and with it every lease it obtained.
    await must(core, "POST", "sys/agents/edge-1/suspend", {});
    // The agent's leases are revoked one by one, in no set order: wait for both logins.
    const app = userIn(await readText(dest));
    await waitFor(
      async () => (await validUntil(long2)) === null && (await validUntil(app)) === null,
      8_000,
      "logins dropped",
    );
  } catch (e) {
    // deno-lint-ignore no-console
    console.error("agent log:\n" + (await agent?.log() ?? "").slice(-6000));
    throw e;
  } finally {
    if (core) {
      await call(core.url, "PUT", "/v1/sys/leases/revoke-prefix/database/", {}, core.rootToken)
        .catch(() => {});
    }
    await agent?.kill("SIGKILL").catch(() => {});
    await core?.kill("SIGKILL").catch(() => {});
    const left = await admin.query(
      `SELECT rolname FROM pg_roles WHERE rolname LIKE 'v-%-app-%' OR rolname LIKE 'v-%-long-%'`,
    );
    for (const r of left.rows) {
      await admin.query(`DROP ROLE IF EXISTS "${r.rolname}"`).catch(() => {});
    }
    await admin.query(`DROP ROLE IF EXISTS "${root}"`).catch(() => {});
    await admin.end();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
