/**
 * Identity services: the identity PKI, the app registry and the agent records, built once per
 * core and wired to its seal lifecycle and routes.
 */
import type { Core } from "../core.ts";
import { AgentStore } from "../agents/agent_store.ts";
import { AppStore } from "../apps/app_store.ts";
import { appRoutes } from "../apps/routes.ts";
import type { CorePathSpec } from "../router/types.ts";
import {
  agentCertRoutes,
  agentSysRoutes,
  appCertRoutes,
  type CertRouteDeps,
} from "./cert_routes.ts";
import { IdentityPki, type IssuedIdentityCert } from "./identity_pki.ts";
import { checkCsr } from "./csr_check.ts";
import { PermissionDenied } from "../../lib/errors.ts";
import { ReplayGuard } from "./replay_guard.ts";

export interface IdentityServices {
  pki: IdentityPki;
  apps: AppStore;
  agents: AgentStore;
  proofs: ReplayGuard;
  /**
   * A new certificate for an agent whose identity the caller has already verified (e.g. the
   * agent hub renewing over the agent's own mTLS link); 403 unless the agent is active.
   */
  issueAgent(agentId: string, csrPem: string, ttl?: number): Promise<IssuedIdentityCert>;
  /** Policies of the token behind the agent's latest certificate; [] for an unknown agent. */
  agentPolicies(agentId: string): Promise<string[]>;
}

export function createIdentityServices(core: Core): IdentityServices {
  const apps = new AppStore(core.barrier.view("sys/apps/"), core.now);
  const agents = new AgentStore(core.barrier.view("sys/agents/"), core.now);
  const pki = new IdentityPki({
    storage: core.barrier.view("sys/identity-pki/"),
    now: core.now,
    isActive: async (kind, id) =>
      (kind === "app" ? (await apps.get(id))?.status : (await agents.get(id))?.status) ===
        "active",
  });
  core.onUnseal.push(() => pki.warm());
  core.onSeal.push(() => pki.reset());
  return {
    pki,
    apps,
    agents,
    proofs: new ReplayGuard(core.barrier.view("sys/identity-proofs/")),
    async issueAgent(agentId, csrPem, ttl) {
      await checkCsr(csrPem);
      if ((await agents.get(agentId))?.status !== "active") throw new PermissionDenied();
      const c = await pki.issue("agent", agentId, csrPem, ttl);
      await agents.recordCert(agentId, {
        serial_number: c.serial_number,
        expiration: c.expiration,
      });
      return c;
    },
    async agentPolicies(agentId) {
      const a = await agents.get(agentId);
      return a?.status === "active" ? a.policies ?? [] : [];
    },
  };
}

/**
 * Registers `apps/`, `pki/app/` and `pki/agent/` (nested: a user may mount "pki/" beside them)
 * and returns the routes that belong in the `sys/` table.
 */
export function registerIdentityRoutes(core: Core, s: IdentityServices): CorePathSpec[] {
  const deps: CertRouteDeps = { ...s, now: core.now, links: () => core.agentLinks };
  core.mounts.addBuiltin(
    "apps/",
    "apps",
    appRoutes({ core, apps: s.apps, pki: s.pki }),
    "application registry",
  );
  core.mounts.addBuiltin("pki/app/", "identity-pki", appCertRoutes(deps), "app certificates", {
    nested: true,
  });
  core.mounts.addBuiltin(
    "pki/agent/",
    "identity-pki",
    agentCertRoutes(deps),
    "agent certificates",
    {
      nested: true,
    },
  );
  return agentSysRoutes(deps);
}
