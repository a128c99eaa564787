/**
 * The agent recovering from states a live link never shows it: revoked while it was away,
 * a bootstrap that fails after the (single-use) login, a policy that drops and restores a
 * template's secret, and a reload command that fails after the file was written.
 */
import assert from "node:assert/strict";
import {
  agentOnline,
  type AgentProc,
  type CoreProc,
  setupAgentRole,
  startAgent,
  startCore,
  waitFor,
  withAgentWorld,
  writeSecret,
} from "../helpers/agent_env.ts";
import { call } from "../helpers/server_process.ts";

const readText = (f: string) => Deno.readTextFile(f).catch(() => "");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sudo(core: CoreProc, method: string, path: string, body?: unknown) {
  const r = await call(core.url, method, `/v1/${path}`, body, core.rootToken);
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

Deno.test("agent: suspended while away keeps serving its cache; revoked while away stops and wipes it", () =>
  withAgentWorld({ prefix: "secrethub-agent-revoked-away-" }, async ({ core, agent }) => {
    await waitFor(() => agentOnline(agent), 15_000, "online");
    assert.equal((await agent.get("secret/data/web/db")).status, 200);
    await agent.kill();

    // Refused at the handshake but not revoked: an outage as far as the cache is concerned.
    await sudo(core, "POST", "sys/agents/edge-1/suspend", {});
    await agent.restart();
    await sleep(2_000);
    const cached = await agent.get("secret/data/web/db");
    assert.equal(cached.status, 200);
    assert.equal(cached.body.data.data.password, "s3cret-v1");
    assert.equal((await agent.get("agent/health", "")).status, 200);

    // Revoked while it cannot connect: final, as over a live link.
    await sudo(core, "POST", "sys/agents/edge-1/revoke", {});
    await waitFor(
      async () => (await agent.get("secret/data/web/db")).status === 403,
      10_000,
      "revoked agent stops serving",
    );
    assert.equal((await agent.get("agent/health", "")).status, 503);
    assert.equal((await agent.get("agent/status", "")).body.revoked, true);
    assert.deepEqual([...Deno.readDirSync(`${agent.dir}/state/cache`)], []);
  }));

Deno.test("core: sys/agent/revocation-status answers only for agent certificates it issued", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-revocation-status-" });
  const core = await startCore(`${dir}/core`);
  try {
    const r = await call(core.url, "POST", "/v1/sys/agent/revocation-status", {
      certificate: await (await fetch(`${core.url}/v1/sys/agent/ca`)).text(),
    });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    const bad = await call(core.url, "POST", "/v1/sys/agent/revocation-status", {
      certificate: "not a certificate",
    });
    assert.equal(bad.status, 400);
  } finally {
    await core.kill("SIGKILL").catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

const NO_ISSUE_POLICY = `path "secret/data/web/*" { capabilities = ["read"] }`;
const FULL_POLICY = `${NO_ISSUE_POLICY}
path "pki/agent/issue" { capabilities = ["update"] }`;

Deno.test("agent: a bootstrap failing after login keeps the login token, retries only the failed step, and revokes it when done", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-agent-bootstrap-retry-" });
  let core: CoreProc | null = null;
  let agent: AgentProc | null = null;
  try {
    core = await startCore(`${dir}/core`);
    const role = await setupAgentRole(core);
    await writeSecret(core, "web/db", { password: "s3cret-v1" });
    await sudo(core, "POST", "auth/approle/role/edge", {
      token_policies: ["edge"],
      token_ttl: "1h",
      secret_id_num_uses: 1,
    });
    await sudo(core, "PUT", "sys/policies/acl/edge", { policy: NO_ISSUE_POLICY });
    agent = await startAgent(`${dir}/agent`, {
      cores: [core],
      roleId: role.roleId,
      secretId: await role.secretId(),
    });
    const a = agent;
    // Core's reason is in the log, and the spent secret-id is not presented again.
    await waitFor(
      async () =>
        (await a.log()).includes("certificate issue failed (status 403): permission denied"),
      15_000,
      "issue refused",
    );
    await waitFor(
      async () => (await a.log()).split("certificate issue failed").length > 3,
      15_000,
      "issue retried",
    );
    assert.ok(!(await a.log()).includes("AppRole login failed"), await a.log());
    const kept = JSON.parse(await readText(`${a.dir}/state/identity/login-token.json`));
    assert.equal(
      (await Deno.stat(`${a.dir}/state/identity/login-token.json`)).mode! & 0o777,
      0o600,
    );

    // The permission added while the agent is down: the restarted agent resumes with the token.
    await a.kill();
    await sudo(core, "PUT", "sys/policies/acl/edge", { policy: FULL_POLICY });
    await a.restart();
    await waitFor(() => agentOnline(a), 15_000, "bootstrapped and online");
    assert.equal((await a.get("secret/data/web/db")).status, 200);
    assert.ok(!(await a.log()).includes("AppRole login failed"), await a.log());
    // Its job done, the login token is revoked and forgotten.
    const lookup = await call(
      core.url,
      "POST",
      "/v1/auth/token/lookup",
      { token: kept.token },
      core.rootToken,
    );
    assert.notEqual(lookup.status, 200, JSON.stringify(lookup.body));
    await assert.rejects(
      Deno.stat(`${a.dir}/state/identity/login-token.json`),
      Deno.errors.NotFound,
    );
  } catch (e) {
    // deno-lint-ignore no-console
    console.error("agent log:\n" + (await agent?.log() ?? "").slice(-6000));
    throw e;
  } finally {
    await agent?.kill("SIGKILL").catch(() => {});
    await core?.kill("SIGKILL").catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

const TEMPLATE = `PW={{ secret "secret/data/web/db" "password" }}\n`;

/**
 * An agent rendering TEMPLATE whose policy drops the template's secret; the secret is rotated
 * meanwhile and the policy restored; then `after` runs with the template's destination.
 */
function withDroppedAndRestored(
  prefix: string,
  after: (agent: AgentProc, dest: string) => Promise<void>,
): Promise<void> {
  return withAgentWorld({
    prefix,
    config: async (dir) => {
      await Deno.mkdir(`${dir}/out`);
      return { templates: [{ contents: TEMPLATE, destination: `${dir}/out/app.env` }] };
    },
  }, async ({ dir, core, agent }) => {
    const dest = `${dir}/out/app.env`;
    await waitFor(async () => (await readText(dest)) === "PW=s3cret-v1\n", 15_000, "render");
    await waitFor(() => agentOnline(agent), 15_000, "online");
    await sudo(core, "PUT", "sys/policies/acl/edge", {
      policy: `path "pki/agent/issue" { capabilities = ["update"] }`,
    });
    await waitFor(
      async () => (await agent.get("secret/data/web/db")).status === 403,
      5_000,
      "access dropped",
    );
    await writeSecret(core, "web/db", { password: "s3cret-v2" });
    await sudo(core, "PUT", "sys/policies/acl/edge", { policy: FULL_POLICY });
    await after(agent, dest);
  });
}

Deno.test("agent: a template's secret dropped by policy and restored is re-rendered with its new value", () =>
  withDroppedAndRestored("secrethub-agent-policy-restore-", async (_agent, dest) => {
    // No socket read: the policy push alone must bring the template up to date.
    await waitFor(async () => (await readText(dest)) === "PW=s3cret-v2\n", 5_000, "re-render");
  }));

Deno.test("agent: a socket read that brings back a template's secret re-renders the template", () =>
  withDroppedAndRestored("secrethub-agent-read-render-", async (agent, dest) => {
    // A cache miss read through the link: the value it stores is one the template uses.
    await waitFor(
      async () => {
        const r = await agent.get("secret/data/web/db");
        return r.status === 200 && r.body.data.data.password === "s3cret-v2";
      },
      5_000,
      "read the new value",
    );
    await waitFor(async () => (await readText(dest)) === "PW=s3cret-v2\n", 3_000, "re-render");
  }));

Deno.test("agent: a failing reload command is logged as such, not as a template not rendered", () =>
  withAgentWorld({
    prefix: "secrethub-agent-reload-fail-",
    config: async (dir) => {
      await Deno.mkdir(`${dir}/out`);
      return {
        templates: [{
          contents: TEMPLATE,
          destination: `${dir}/out/app.env`,
          reload: { command: ["false"] },
        }],
      };
    },
  }, async ({ dir, agent }) => {
    const dest = `${dir}/out/app.env`;
    await waitFor(async () => (await readText(dest)) === "PW=s3cret-v1\n", 15_000, "render");
    await waitFor(
      async () => (await agent.log()).includes("template rendered; reload command failed"),
      5_000,
      "reload failure logged",
    );
    // (Before bootstrap the secret is missing, and that is "not rendered", rightly.)
    const wrong = (await agent.log()).split("\n").filter((l) =>
      l.includes("template not rendered") && l.includes("Reload command")
    );
    assert.deepEqual(wrong, []);
  }));
