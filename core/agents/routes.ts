/**
 * `sys/agents`: the registry of agents (from their records) joined with live link information
 * (from the hub, when this node runs the agent listener). Reads need `read`/`list` on the path;
 * disconnect, suspend and activate need sudo, like other operator actions on sys/.
 */
import { NotFound } from "../../lib/errors.ts";
import { quoted } from "../../lib/fields.ts";
import type { Core } from "../core.ts";
import type { CorePathSpec } from "../router/types.ts";
import type { AgentConnectionInfo } from "./hub.ts";

/** What the routes need from the hub; absent on a node without an agent listener. */
export interface AgentLinks {
  connection(agentId: string): AgentConnectionInfo | undefined;
  connections(): AgentConnectionInfo[];
  disconnect(agentId: string, reason?: string): boolean;
  revoked(agentId: string): boolean;
  /** Revokes the agent's link token (and so the leases it obtained). */
  forgetAgent(agentId: string): void;
  /** A certificate was revoked: the link it opened (if any) ends. */
  disconnectSerial(serial: string): void;
}

const offline = {
  connected: false,
  connected_at: "",
  last_seen: "",
  version: "",
  remote_address: "",
  link_serial: "",
};

export function agentRoutes(core: Core): CorePathSpec[] {
  const store = () => core.identity!.agents;
  const describe = async (id: string) => {
    const rec = await store().get(id);
    if (!rec) return null;
    const live = core.agentLinks?.connection(id);
    return {
      agent_id: rec.id,
      status: rec.status,
      created_time: new Date(rec.created_time).toISOString(),
      current_serial: rec.current_serial,
      policies: rec.policies ?? [],
      ...(live
        ? {
          connected: true,
          connected_at: live.connected_at,
          last_seen: live.last_seen,
          version: live.version,
          remote_address: live.remote_address,
          // The certificate the live link presented (current_serial is the latest issued).
          link_serial: live.certificate_serial,
          subscriptions: live.subscriptions,
        }
        : offline),
    };
  };
  const listing = async () => {
    const ids = (await store().list()).sort();
    const info: Record<string, unknown> = {};
    for (const id of ids) info[id] = await describe(id);
    return { data: { keys: ids, key_info: info } };
  };
  const noAgent = (id: string) => new NotFound(`no agent with id ${quoted(id, 128)}`);
  return [
    { pattern: "agents/", operations: { list: listing } },
    { pattern: "agents", operations: { read: listing } },
    {
      pattern: "agents/:id",
      operations: {
        read: async (r) => {
          const d = await describe(r.params.id!);
          if (!d) throw noAgent(r.params.id!);
          return { data: d };
        },
      },
    },
    ...(["suspend", "activate"] as const).map((action): CorePathSpec => ({
      pattern: `agents/:id/${action}`,
      sudo: true,
      operations: {
        update: async (r) => {
          const id = r.params.id!;
          const rec = await store().setStatus(id, action === "suspend" ? "suspended" : "active");
          if (!rec) throw noAgent(id);
          // A suspended agent's live link goes now; its next handshake is refused until it is
          // activated again. Not the revocation close code: it keeps its cache until max_stale.
          if (action === "suspend") {
            core.agentLinks?.disconnect(id, "agent suspended");
            core.agentLinks?.forgetAgent(id);
          }
          return { data: { agent_id: id, status: rec.status } };
        },
      },
    })),
    {
      pattern: "agents/:id/disconnect",
      sudo: true,
      operations: {
        update: async (r) => {
          if (!await store().get(r.params.id!)) throw noAgent(r.params.id!);
          const was = core.agentLinks?.disconnect(r.params.id!) ?? false;
          return { data: { agent_id: r.params.id, disconnected: was } };
        },
      },
    },
  ];
}
