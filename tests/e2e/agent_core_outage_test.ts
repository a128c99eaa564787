/**
 * Core outages the agent must ride out, as real processes. A core that stops answering without
 * closing anything (frozen with SIGSTOP: what a network black hole looks like to the agent): local
 * reads must not hang on it, the agent must notice the dead link from its unanswered heartbeat and
 * go offline, and come back when core does. A core sealed and unsealed under a live agent: the
 * agent serves its cache meanwhile and links again after the unseal. A device whose first boot
 * finds core down: it keeps its secret-id, retries, and bootstraps when core comes.
 */
import assert from "node:assert/strict";
import {
  agentOnline,
  type AgentWorld,
  waitFor,
  withAgentWorld,
  writeSecret,
} from "../helpers/agent_env.ts";
import { call } from "../helpers/server_process.ts";

const password = async (w: AgentWorld) =>
  (await w.agent.get("secret/data/web/db")).body?.data?.data?.password;

Deno.test("agent: a core that goes silent is detected by the heartbeat; cached reads never wait on it", () =>
  withAgentWorld(
    { prefix: "secrethub-agent-blackhole-", secret: { password: "before" } },
    async (w) => {
      const { core, agent } = w;
      const pid = core.proc.child.pid;
      const online = () => agentOnline(agent);
      await waitFor(online, 15_000, "online");
      assert.equal((await agent.get("secret/data/web/db")).status, 200);
      // Core acknowledged the subscription: from now on it pushes changes to this path.
      await waitFor(
        async () =>
          (await call(core.url, "GET", "/v1/sys/agents/edge-1", undefined, core.rootToken))
            .body.data.subscriptions >= 1,
        5_000,
        "subscribed",
      );
      await writeSecret(core, "web/other", { password: "other" });
      // Read and freeze at once: its subscription may not be acknowledged yet, so the agent may
      // ask core again; when core does not answer, the cached value must still be served.
      assert.equal((await agent.get("secret/data/web/other")).status, 200);
      const other = agent.get("secret/data/web/other");

      Deno.kill(pid, "SIGSTOP");
      // The link still looks up, but a cached, subscribed value is served without asking core.
      const t0 = Date.now();
      const r = await agent.get("secret/data/web/db");
      assert.equal(r.status, 200);
      assert.equal(r.body.data.data.password, "before");
      assert.ok(Date.now() - t0 < 1_000, `cached read took ${Date.now() - t0} ms`);
      // Heartbeat every 2 s, answer expected within 10 s: then the link is declared dead.
      await waitFor(async () => !(await online()), 20_000, "offline after silence");
      assert.equal((await agent.get("secret/data/web/db")).status, 200);
      const o = await other;
      assert.equal(o.status, 200, JSON.stringify(o.body));
      assert.equal(o.body.data.data.password, "other");

      Deno.kill(pid, "SIGCONT");
      await waitFor(online, 15_000, "back online");
      await writeSecret(core, "web/db", { password: "after" });
      await waitFor(
        async () => await password(w) === "after",
        10_000,
        "fresh value after the thaw",
      );
    },
  ));

Deno.test("agent: core sealed and unsealed under a live agent → offline on the cache, then back with pushes", () =>
  withAgentWorld({ prefix: "secrethub-agent-seal-", secret: { password: "v1" } }, async (w) => {
    const { core, agent } = w;
    const online = () => agentOnline(agent);
    await waitFor(online, 15_000, "online");
    assert.equal(await password(w), "v1");

    const sealed = await call(core.url, "PUT", "/v1/sys/seal", undefined, core.rootToken);
    assert.equal(sealed.status, 204, JSON.stringify(sealed.body));
    await waitFor(async () => !(await online()), 10_000, "offline while sealed");
    const cached = await agent.get("secret/data/web/db");
    assert.equal(cached.status, 200);
    assert.match(cached.body.warnings[0], /agent cache/);

    const r = await call(core.url, "PUT", "/v1/sys/unseal", { key: core.unsealKey });
    assert.equal(r.body.sealed, false);
    await waitFor(online, 15_000, "back online after unseal");
    await writeSecret(core, "web/db", { password: "v2" });
    await waitFor(async () => await password(w) === "v2", 10_000, "pushed after unseal");
  }));

Deno.test("agent: a device that first boots while core is down keeps retrying and bootstraps when core comes", () =>
  withAgentWorld({
    prefix: "secrethub-agent-firstboot-",
    secret: { password: "first-boot" },
    beforeAgent: (core) => core.kill("SIGTERM"),
  }, async ({ dir, core, agent }) => {
    const secretIdFile = `${dir}/agent/secret_id`;
    const exists = (f: string) => Deno.stat(f).then(() => true, () => false);
    // No identity, no cache: an honest 503, and the secret-id stays until it has been used.
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal((await agent.get("secret/data/web/db")).status, 503);
    assert.equal(await agentOnline(agent), false);
    assert.ok(await exists(secretIdFile));

    await core.restart();
    await waitFor(
      async () => (await agent.get("secret/data/web/db")).status === 200,
      15_000,
      "bootstrapped and serving",
    );
    assert.equal((await agent.get("secret/data/web/db")).body.data.data.password, "first-boot");
    assert.equal(await exists(secretIdFile), false);
  }));
