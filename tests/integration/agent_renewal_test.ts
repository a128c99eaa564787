/**
 * The agent's own certificate renewal at 70 % of its life, against a real core process over the
 * real mTLS link. The agent service runs in this process with its clock moved forward, so the
 * 72 h certificate is due without waiting: a new key and certificate, a reconnect presenting
 * them, and a disk cache re-encrypted under the new key (read back by a fresh agent while core
 * is down).
 */
import assert from "node:assert/strict";
import { AgentService } from "../../agent/service.ts";
import { parseAgentConfig } from "../../agent/config.ts";
import { setupAgentRole, startCore, waitFor, writeSecret } from "../helpers/agent_env.ts";
import { call } from "../helpers/server_process.ts";

Deno.test("agent: the certificate is renewed over the link at 70 % of its life and the cache follows the new key", async () => {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-agent-renewal-" });
  const core = await startCore(`${dir}/core`);
  const services: AgentService[] = [];
  try {
    const role = await setupAgentRole(core);
    await writeSecret(core, "web/db", { password: "renew-me" });
    await Deno.mkdir(`${dir}/agent`);
    await Deno.writeTextFile(`${dir}/agent/role_id`, role.roleId);
    await Deno.writeTextFile(`${dir}/agent/secret_id`, await role.secretId());
    const cfg = parseAgentConfig({
      core: { addresses: [core.url], agent_addresses: [core.agentUrl] },
      auth: { role_id_file: "role_id", secret_id_file: "secret_id" },
      agent_id: "edge-renew",
      state_dir: "state",
      listener: { socket: `${dir}/agent/agent.sock` },
      link: { backoff_initial: "200ms", backoff_max: "1s", heartbeat: "2s" },
    }, `${dir}/agent`);
    let skew = 0;
    const start = async () => {
      const s = new AgentService(cfg, { now: () => Date.now() + skew, log: () => {} });
      services.push(s);
      await s.start();
      return s;
    };
    const online = (s: AgentService) => Promise.resolve(s.status().online === true);

    const agent = await start();
    await waitFor(() => online(agent), 15_000, "online");
    assert.equal((await agent.read("secret/data/web/db", undefined)).status, 200);
    const before = agent.identity!;
    const keyBefore = await Deno.readTextFile(`${dir}/agent/state/identity/agent.key`);

    // Not due yet: nothing happens.
    await agent.renewCertificateIfDue();
    assert.equal(agent.identity!.serial, before.serial);

    // 75 % of the way through its life.
    skew = Math.round((before.notAfter - before.notBefore) * 0.75);
    await agent.renewCertificateIfDue();
    skew = 0;
    const after = agent.identity!;
    assert.notEqual(after.serial, before.serial);
    assert.ok(after.notAfter >= before.notAfter);
    assert.notEqual(await Deno.readTextFile(`${dir}/agent/state/identity/agent.key`), keyBefore);
    assert.equal(
      (await Deno.readTextFile(`${dir}/agent/state/identity/agent.crt`)).trim(),
      after.certPem.trim(),
    );
    // The link comes back presenting the new certificate, and core knows it as current.
    const canon = (s: string) => s.replaceAll(/[:-]/g, "").replace(/^0+/, "").toLowerCase();
    const linkSerial = async () =>
      canon(
        (await call(core.url, "GET", "/v1/sys/agents/edge-renew", undefined, core.rootToken))
          .body.data.link_serial ?? "",
      );
    await waitFor(
      async () => (await online(agent)) && await linkSerial() === canon(after.serial),
      10_000,
      "link presenting the new certificate",
    );
    const rec = await call(core.url, "GET", "/v1/sys/agents/edge-renew", undefined, core.rootToken);
    assert.equal(canon(rec.body.data.current_serial), canon(after.serial));
    assert.equal((await agent.read("secret/data/web/db", undefined)).status, 200);

    // Core down, agent restarted: the disk cache, re-encrypted under the new key, still serves.
    await agent.stop();
    await core.kill("SIGKILL");
    const again = await start();
    const r = await again.read("secret/data/web/db", undefined);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(
      (r.body as { data: { data: { password: string } } }).data.data.password,
      "renew-me",
    );
  } finally {
    for (const s of services) await s.stop().catch(() => {});
    await core.kill("SIGKILL").catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
