/**
 * Identity services: the identity PKI, the app registry and the agent records, built once per
 * core and wired to its seal lifecycle and routes.
 */
import type { Core } from "../core.ts";
import { type AgentRecord, AgentStore } from "../agents/agent_store.ts";
import { enrolmentSource, isLoginSource } from "../agents/enrolment.ts";
import { log } from "../log.ts";
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
   * agent hub renewing over the agent's own mTLS link): a renewal, so paced and checked as
   * beginAgentRenewal says.
   */
  issueAgent(agentId: string, csrPem: string, ttl?: number): Promise<IssuedIdentityCert>;
  /**
   * What the agent's link may act with (its enrolling role's current policies, never root), or
   * null when it may not link: not active, or the role or auth mount that enrolled it is gone
   * (then it is suspended).
   */
  agentPolicies(agentId: string): Promise<string[] | null>;
  /**
   * Before an agent certificate is renewed: 403 unless the agent is active and its enrolling
   * source still exists (suspended if not), 429 within AGENT_RENEW_INTERVAL_MS of its last
   * renewal.
   */
  beginAgentRenewal(agentId: string): Promise<void>;
  /** Records a certificate issued to an agent and revokes what MAX_LIVE_CERTS pushes out. */
  recordAgentCert(agentId: string, c: IssuedIdentityCert): Promise<void>;
}

/**
 * The shortest time between two renewals of one agent's certificate. An agent renews once per
 * lifetime (at 70 %) and retries a failed renewal a minute later; only a flood is refused.
 */
export const AGENT_RENEW_INTERVAL_MS = 30_000;

export function createIdentityServices(core: Core): IdentityServices {
  const apps = new AppStore(core.barrier.view("sys/apps/"), core.now);
  const agents = new AgentStore(core.barrier.view("sys/agents/"), core.now);
  const pki = new IdentityPki({
    storage: core.barrier.view("sys/identity-pki/"),
    now: core.now,
    isActive: async (kind, id) =>
      (kind === "app" ? (await apps.get(id))?.status : (await agents.get(id))?.status) ===
        "active",
    onRevoked: (serial) => core.agentLinks?.disconnectSerial(serial),
  });

  /** Its enrolling source is gone: the agent stops like a suspended one (an operator's call). */
  const suspendOrphan = async (id: string): Promise<void> => {
    await agents.setStatus(id, "suspended");
    core.agentLinks?.disconnect(id, "agent suspended");
    core.agentLinks?.forgetAgent(id);
    log.warn("agent suspended: the role or auth mount that enrolled it is gone", {
      agent_id: id,
    });
  };

  /** The active agent's record, its policies refreshed from its enrolling role; else 403. */
  const activeAgent = async (id: string): Promise<AgentRecord> => {
    const a = await agents.get(id);
    if (a?.status !== "active") throw new PermissionDenied();
    const src = await enrolmentSource(core, a.source);
    if (src.state === "gone") {
      await suspendOrphan(id);
      throw new PermissionDenied();
    }
    if (src.state === "live" && src.policies.join() !== (a.policies ?? []).join()) {
      await agents.setPolicies(id, src.policies);
      return { ...a, policies: src.policies };
    }
    return a;
  };

  /**
   * A role or user deleted, or an auth mount disabled. Each agent is checked again first: a
   * login racing a role-id change revokes the role's tokens too, and the role is still there.
   */
  const sourceRevoked = async (source: string): Promise<void> => {
    if (!isLoginSource(source)) return;
    try {
      for (const id of await agents.enrolledBy(source)) {
        const a = await agents.get(id);
        if (a && (await enrolmentSource(core, a.source)).state === "gone") {
          await suspendOrphan(id);
        }
      }
    } catch (e) {
      // The next handshake or renewal checks the source again.
      log.warn("could not suspend the agents of a deleted role", {
        error: (e as Error).message,
      });
    }
  };

  const recordAgentCert = async (agentId: string, c: IssuedIdentityCert): Promise<void> => {
    const evicted = await agents.recordCert(agentId, {
      serial_number: c.serial_number,
      expiration: c.expiration,
    });
    for (const serial of evicted) await pki.revoke(serial);
  };

  const beginAgentRenewal = async (agentId: string): Promise<void> => {
    await activeAgent(agentId);
    await agents.startRenewal(agentId, AGENT_RENEW_INTERVAL_MS);
  };

  core.onUnseal.push(() => {
    pki.warm();
    // The token store is new at every unseal.
    core.tokens.onSourceRevoked = sourceRevoked;
  });
  core.onSeal.push(() => pki.reset());
  return {
    pki,
    apps,
    agents,
    proofs: new ReplayGuard(core.barrier.view("sys/identity-proofs/")),
    async issueAgent(agentId, csrPem, ttl) {
      await checkCsr(csrPem);
      await beginAgentRenewal(agentId);
      const c = await pki.issue("agent", agentId, csrPem, ttl);
      await recordAgentCert(agentId, c);
      return c;
    },
    async agentPolicies(agentId) {
      try {
        return (await activeAgent(agentId)).policies.filter((p) => p !== "root");
      } catch (e) {
        if (e instanceof PermissionDenied) return null;
        throw e;
      }
    },
    beginAgentRenewal,
    recordAgentCert,
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
