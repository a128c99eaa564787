/**
 * What the agent hub tests share: a core with an agent listener and an AppRole role that enrols
 * agents, and an agent link made as the agent makes it.
 */
import assert from "node:assert/strict";
import { AgentLink, type LinkCredentials, type LinkOptions } from "../../agent/link.ts";
import { AgentListener } from "../../core/agents/listener.ts";
import { startTestCore, type TestCore } from "../helpers/test_core.ts";
import { type ClientKey, clientKey } from "./identity_fixtures.ts";
import type { CoreMessage } from "../../lib/agent_protocol.ts";

/**
 * An agent link as the agent makes it (quick retries). `closes` collects the close codes it
 * sees; `start: false` leaves it to the test to start.
 */
export function link(
  url: string,
  creds: LinkCredentials,
  pushes: CoreMessage[] = [],
  o: Partial<LinkOptions> & { closes?: unknown[]; start?: boolean } = {},
): AgentLink {
  const { closes, start = true, ...options } = o;
  const l = new AgentLink({
    urls: [url],
    credentials: () => creds,
    version: "test",
    onPush: (m) => pushes.push(m),
    onState: () => {},
    backoffInitialMs: 100,
    backoffMaxMs: 200,
    log: (msg, f) => {
      if (msg === "agent link closed") closes?.push(f?.code);
    },
    ...options,
  });
  if (start) l.start();
  return l;
}

const POLICY = `
path "secret/data/web/*" { capabilities = ["read"] }
path "pki/agent/issue" { capabilities = ["update"] }
`;
const OPS_POLICY = `
path "secret/data/ops/*" { capabilities = ["read"] }
path "pki/agent/issue" { capabilities = ["update"] }
`;

/** An agent's certificate and the key behind it (kept to sign renewal proofs). */
export interface Enrolled extends LinkCredentials {
  key: ClientKey;
  serial: string;
}

export interface Env {
  t: TestCore;
  listener: AgentListener;
  url: string;
  caPem: string;
  /** A fresh AppRole login on `role` (default "edge"). */
  login(role?: string): Promise<string>;
  enrol(id: string, o?: { token?: string; ttl?: string; role?: string }): Promise<Enrolled>;
  close(): Promise<void>;
}

export async function env(o: { now?: () => number } = {}): Promise<Env> {
  const t = await startTestCore({ now: o.now });
  const listener = new AgentListener(t.core, { address: "127.0.0.1:0" });
  await listener.start();
  const url = listener.current!.url.replace("https://", "wss://");
  await t.req("POST", "/v1/sys/auth/approle", { type: "approle" });
  await t.req("PUT", "/v1/sys/policies/acl/edge", { policy: POLICY });
  await t.req("PUT", "/v1/sys/policies/acl/ops", { policy: OPS_POLICY });
  await t.req("POST", "/v1/auth/approle/role/edge", { token_policies: ["edge"] });
  const caPem = (await t.req("GET", "/v1/sys/agent/ca", undefined, null)).text;
  const e: Env = {
    t,
    listener,
    url,
    caPem,
    async login(role = "edge") {
      const roleId = (await t.req("GET", `/v1/auth/approle/role/${role}/role-id`)).body.data
        .role_id;
      const secretId =
        (await t.req("POST", `/v1/auth/approle/role/${role}/secret-id`, {})).body.data.secret_id;
      const r = await t.req("POST", "/v1/auth/approle/login", {
        role_id: roleId,
        secret_id: secretId,
      }, null);
      assert.equal(r.status, 200, r.text);
      return r.body.auth.client_token;
    },
    async enrol(id, eo = {}) {
      const token = eo.token ?? await e.login(eo.role);
      const key = await clientKey();
      const r = await t.req("POST", "/v1/pki/agent/issue", {
        agent_id: id,
        csr: key.csrPem,
        ...(eo.ttl ? { ttl: eo.ttl } : {}),
      }, token);
      assert.equal(r.status, 200, r.text);
      return {
        certPem: r.body.data.certificate,
        keyPem: key.keyPem,
        caPem,
        key,
        serial: r.body.data.serial_number,
      };
    },
    async close() {
      await listener.close();
      await t.close();
    },
  };
  return e;
}
