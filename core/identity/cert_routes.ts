/**
 * `pki/app/` and `pki/agent/`: identity certificates. Issue for apps is credentialed by a
 * one-time bootstrap token in the body (no Vault token); issue for agents by the caller's token
 * and the ACL on `pki/agent/issue`. Renew needs proof of the current certificate: the mTLS
 * listener's verified peer, or a signature by its key (see renew_proof.ts). Revoke (apps) needs
 * a token and the ACL on `pki/app/revoke`; there is no self-revoke by proof.
 */
import { BadRequest, NotFound, PermissionDenied } from "../../lib/errors.ts";
import * as fields from "../../lib/fields.ts";
import { v } from "../../lib/fields.ts";
import { fromBase64 } from "../../lib/crypto.ts";
import type { CorePathSpec, CoreRequest, CoreResponse, PeerIdentity } from "../router/types.ts";
import type { AppStore } from "../apps/app_store.ts";
import type { AgentStore } from "../agents/agent_store.ts";
import { checkCsr } from "./csr_check.ts";
import type { IdentityPki, IssuedIdentityCert } from "./identity_pki.ts";
import { type IdentityKind, isIdentityId } from "./identity_uri.ts";
import type { ReplayGuard } from "./replay_guard.ts";
import { PROOF_WINDOW_SECONDS, renewMessage, verifyKeySignature } from "./renew_proof.ts";

const pem = v.pipe(v.string("must be a string"), v.maxLength(65536, "is too long"));
const ttl = v.optional(fields.duration);

const appIssueInput = v.object({
  bootstrap_token: v.pipe(v.string("must be a string"), v.maxLength(256, "is too long")),
  csr: pem,
  ttl,
});

const agentIssueInput = v.object({
  agent_id: v.pipe(
    v.string("must be a string"),
    v.check(isIdentityId, "must be 1-128 letters, digits, '.', '_' or '-'"),
  ),
  csr: pem,
  ttl,
});

const renewInput = v.object({
  csr: pem,
  ttl,
  revoke_old: v.optional(fields.bool),
  certificate: v.optional(pem),
  timestamp: v.optional(fields.int),
  signature: v.optional(v.pipe(v.string("must be a string"), v.maxLength(4096, "is too long"))),
});

const revokeInput = v.object({
  serial_number: v.pipe(v.string("must be a string"), v.maxLength(128, "is too long")),
});

export interface CertRouteDeps {
  pki: IdentityPki;
  apps: AppStore;
  agents: AgentStore;
  proofs: ReplayGuard;
  now: () => number;
  /** Live agent links, to drop one at revocation (absent without an agent listener). */
  links?: () => { revoked(agentId: string): boolean } | null;
  /** Checks and paces an agent renewal (see IdentityServices). */
  beginAgentRenewal(agentId: string): Promise<void>;
  /** Records an agent's new certificate, revoking those it pushes out of the record. */
  recordAgentCert(agentId: string, c: IssuedIdentityCert): Promise<void>;
}

function certResponse(c: IssuedIdentityCert, id: string): CoreResponse {
  return { data: { ...c, id } };
}

function caRoute(d: CertRouteDeps): CorePathSpec {
  return {
    pattern: "ca",
    unauthenticated: true,
    operations: {
      read: async () => ({
        raw: { body: await d.pki.caPem() + "\n", contentType: "application/pem-certificate-chain" },
      }),
    },
  };
}

/** The identity the renewal is for, proven by mTLS or by a fresh, unused key signature. */
async function renewProof(
  d: CertRouteDeps,
  kind: IdentityKind,
  req: CoreRequest,
): Promise<PeerIdentity> {
  const body = req.data as v.InferOutput<typeof renewInput>;
  if (req.peer) {
    if (req.peer.kind !== kind) throw new PermissionDenied();
    return req.peer;
  }
  if (!body.certificate || body.timestamp === undefined || !body.signature) {
    throw new BadRequest(
      "renewal needs the current certificate over mTLS, or certificate, timestamp and signature",
    );
  }
  const who = await d.pki.verifyPeer(body.certificate);
  if (!who || who.kind !== kind) throw new PermissionDenied();
  const nowS = Math.floor(d.now() / 1000);
  if (Math.abs(nowS - body.timestamp) > PROOF_WINDOW_SECONDS) {
    throw new PermissionDenied(["permission denied", "renewal proof timestamp out of range"]);
  }
  const ok = await verifyKeySignature(
    body.certificate,
    renewMessage(body.csr, body.timestamp),
    fromBase64(body.signature),
  );
  if (!ok) throw new PermissionDenied();
  if (!await d.proofs.use(who.serial, body.timestamp, nowS)) {
    throw new PermissionDenied(["permission denied", "renewal proof already used"]);
  }
  return who;
}

function renewRoute(
  d: CertRouteDeps,
  kind: IdentityKind,
  record: (id: string, c: IssuedIdentityCert) => Promise<void>,
  markRevoked: (id: string, serial: string) => Promise<void>,
  begin: (id: string) => Promise<void> = () => Promise.resolve(),
): CorePathSpec {
  return {
    pattern: "renew",
    unauthenticated: true,
    input: { update: renewInput },
    operations: {
      async update(req) {
        const body = req.data as v.InferOutput<typeof renewInput>;
        await checkCsr(body.csr);
        const who = await renewProof(d, kind, req);
        await begin(who.id);
        const issued = await d.pki.issue(kind, who.id, body.csr, body.ttl);
        await record(who.id, issued);
        // The old certificate stays valid until it expires unless the caller gives it up.
        if (body.revoke_old) {
          await d.pki.revoke(who.serial);
          await markRevoked(who.id, who.serial);
        }
        return certResponse(issued, who.id);
      },
    },
  };
}

export function appCertRoutes(d: CertRouteDeps): CorePathSpec[] {
  const record = (id: string, c: IssuedIdentityCert) =>
    d.apps.addCert(id, c.serial_number, c.expiration);
  return [
    caRoute(d),
    {
      pattern: "issue",
      unauthenticated: true,
      input: { update: appIssueInput },
      operations: {
        async update(req) {
          const body = req.data as v.InferOutput<typeof appIssueInput>;
          // Checked first, so a malformed CSR does not burn the one-time token.
          await checkCsr(body.csr);
          const entry = await d.apps.consumeBootstrap(body.bootstrap_token);
          const app = entry ? await d.apps.get(entry.app_id) : null;
          if (!app || app.status !== "active") throw new PermissionDenied();
          const issued = await d.pki.issue("app", app.id, body.csr, body.ttl);
          await record(app.id, issued);
          return certResponse(issued, app.id);
        },
      },
    },
    renewRoute(d, "app", record, (id, s) => d.apps.markRevoked(id, s)),
    {
      pattern: "revoke",
      input: { update: revokeInput },
      operations: {
        async update(req) {
          const { serial_number } = req.data as v.InferOutput<typeof revokeInput>;
          const owner = await d.apps.certOwner(serial_number);
          if (!owner) {
            throw new BadRequest(`no application certificate with serial ${serial_number}`);
          }
          await d.pki.revoke(serial_number);
          await d.apps.markRevoked(owner, serial_number);
          return { data: { app_id: owner, serial_number, revoked: true } };
        },
      },
    },
  ];
}

/** "<auth mount uuid>/<role>" for login tokens; otherwise the token itself. */
export function tokenSource(req: CoreRequest): string {
  const t = req.token!;
  return t.source ?? `accessor/${t.accessor}`;
}

export function agentCertRoutes(d: CertRouteDeps): CorePathSpec[] {
  const record = (id: string, c: IssuedIdentityCert) => d.recordAgentCert(id, c);
  return [
    caRoute(d),
    {
      pattern: "issue",
      input: { update: agentIssueInput },
      operations: {
        async update(req) {
          const body = req.data as v.InferOutput<typeof agentIssueInput>;
          await checkCsr(body.csr);
          // The link acts with these policies through a token of its own: root there would be a
          // root token that no operator ever created.
          if (req.token!.policies.includes("root")) {
            throw new BadRequest('the "root" policy cannot be given to an agent');
          }
          await d.agents.claim(body.agent_id, tokenSource(req), req.token!.policies);
          const issued = await d.pki.issue("agent", body.agent_id, body.csr, body.ttl);
          await record(body.agent_id, issued);
          return certResponse(issued, body.agent_id);
        },
      },
    },
    // An agent's old certificates are all revoked with it, so revoke_old needs no record here.
    renewRoute(d, "agent", record, () => Promise.resolve(), (id) => d.beginAgentRenewal(id)),
  ];
}

const revocationStatusInput = v.object({ certificate: pem });

/**
 * sys/agent/ca (PEM, unauthenticated), sys/agent/revocation-status (unauthenticated) and
 * sys/agents/:id/revoke (sudo).
 */
export function agentSysRoutes(d: CertRouteDeps): CorePathSpec[] {
  return [
    {
      // The agent listener refuses a revoked certificate before any WebSocket exists, so the
      // close code that tells a live link "revoked" never reaches an agent that was away: this
      // lets it tell "core refuses me for good" from "core is unreachable". It grants nothing
      // and says no more than a CRL would, and only about a certificate this CA signed.
      pattern: "agent/revocation-status",
      unauthenticated: true,
      input: { update: revocationStatusInput },
      operations: {
        async update(req) {
          const { certificate } = req.data as v.InferOutput<typeof revocationStatusInput>;
          const r = await d.pki.revocationOf(certificate);
          if (!r || r.kind !== "agent") {
            throw new BadRequest("not an agent certificate issued by this core");
          }
          const agent = await d.agents.get(r.id);
          const revoked = r.revoked || agent?.status === "revoked";
          return { data: { agent_id: r.id, serial_number: r.serial, revoked } };
        },
      },
    },
    {
      pattern: "agent/ca",
      unauthenticated: true,
      operations: {
        read: async () => ({
          raw: {
            body: await d.pki.caPem() + "\n",
            contentType: "application/pem-certificate-chain",
          },
        }),
      },
    },
    {
      pattern: "agents/:id/revoke",
      sudo: true,
      operations: {
        async update(req) {
          const serials = await d.agents.revoke(req.params.id!);
          if (serials === null) throw new NotFound(`no agent with id "${req.params.id}"`);
          for (const s of serials) await d.pki.revoke(s);
          // A live link was verified at its handshake; it must not outlive the revocation.
          d.links?.()?.revoked(req.params.id!);
          return { data: { id: req.params.id, status: "revoked", revoked_serials: serials } };
        },
      },
    },
  ];
}
