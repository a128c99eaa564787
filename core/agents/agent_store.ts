/**
 * Agents known to the core, through the barrier at `sys/agents/<id>`. An agent id is claimed by
 * the token source (AppRole role, or token accessor) that first got a certificate for it; another
 * source cannot get certificates in its name. Exported for the agent hub (connection info).
 */
import { BadRequest, PermissionDenied, TooManyRequests } from "../../lib/errors.ts";
import { putJSONOp, readJSON, type StorageView } from "../../engines/sdk.ts";
import { KeyedLock } from "../auth/approle/lock.ts";

/**
 * `suspended` is reversible (no certificates, no link, until activated again); `revoked` is
 * final and also revokes its certificates.
 */
export type AgentStatus = "active" | "suspended" | "revoked";

/**
 * Unexpired certificates an agent may hold at once; one more puts the oldest on the CRL. An
 * agent renewing at 70 % of the lifetime holds two; the rest is room for re-enrolments.
 */
export const MAX_LIVE_CERTS = 10;

export interface AgentCert {
  serial_number: string;
  /** Unix seconds. */
  expiration: number;
}

export interface AgentRecord {
  id: string;
  /** Token `source` ("<auth mount uuid>/<role>") or "accessor/<accessor>" that registered it. */
  source: string;
  /**
   * Policies of the token behind its latest certificate request, refreshed from its enrolling
   * role at handshakes and renewals: what its link may read.
   */
  policies: string[];
  /** Unix ms. */
  created_time: number;
  updated_time: number;
  current_serial: string;
  /** Unexpired certificates issued to it (revoked with the agent), oldest first. */
  certificates: AgentCert[];
  status: AgentStatus;
  /** Unix ms of its latest renewal (not enrolment), which paces the next. */
  renewed_time?: number;
}

export class AgentStore {
  readonly #s: StorageView;
  readonly #now: () => number;
  readonly #locks = new KeyedLock();

  constructor(storage: StorageView, now: () => number) {
    this.#s = storage;
    this.#now = now;
  }

  get(id: string): Promise<AgentRecord | null> {
    return readJSON<AgentRecord>(this.#s, id);
  }

  async list(): Promise<string[]> {
    return (await this.#s.list("")).filter((k) => !k.endsWith("/"));
  }

  /**
   * Registers `id` for `source`, or confirms it belongs to it; 403 for another source or a
   * revoked agent (the same answer, so ids of other roles cannot be probed by message).
   */
  claim(id: string, source: string, policies: string[]): Promise<AgentRecord> {
    return this.#locks.run(id, async () => {
      const cur = await this.get(id);
      if (cur) {
        if (cur.source !== source || cur.status !== "active") throw new PermissionDenied();
        if (cur.policies?.join() === policies.join()) return cur;
        const next = { ...cur, policies, updated_time: this.#now() };
        await this.#s.batch([putJSONOp(id, next)]);
        return next;
      }
      const now = this.#now();
      const rec: AgentRecord = {
        id,
        source,
        policies,
        created_time: now,
        updated_time: now,
        current_serial: "",
        certificates: [],
        status: "active",
      };
      await this.#s.batch([putJSONOp(id, rec)]);
      return rec;
    });
  }

  /**
   * Notes a newly issued certificate as current; expired ones drop out of the list. Returns the
   * serials pushed out by MAX_LIVE_CERTS, which the caller must revoke.
   */
  recordCert(id: string, cert: AgentCert): Promise<string[]> {
    return this.#locks.run(id, async () => {
      const cur = await this.get(id);
      if (!cur) return [];
      const nowS = Math.floor(this.#now() / 1000);
      const live = [...cur.certificates.filter((c) => c.expiration > nowS), cert];
      const evicted = live.splice(0, Math.max(0, live.length - MAX_LIVE_CERTS));
      const next: AgentRecord = {
        ...cur,
        current_serial: cert.serial_number,
        certificates: live,
        updated_time: this.#now(),
      };
      await this.#s.batch([putJSONOp(id, next)]);
      return evicted.map((c) => c.serial_number);
    });
  }

  /**
   * Takes the agent's renewal slot: 403 unless active, 429 when its last renewal was less than
   * `intervalMs` ago. Taken before the certificate is signed, so concurrent requests cannot
   * both pass; a renewal that then fails still spends it.
   */
  startRenewal(id: string, intervalMs: number): Promise<void> {
    return this.#locks.run(id, async () => {
      const cur = await this.get(id);
      if (!cur || cur.status !== "active") throw new PermissionDenied();
      const now = this.#now();
      const wait = (cur.renewed_time ?? 0) + intervalMs - now;
      if (wait > 0) {
        throw new TooManyRequests(
          `certificate renewed less than ${intervalMs / 1000} s ago`,
          Math.ceil(wait / 1000),
        );
      }
      await this.#s.batch([putJSONOp(id, { ...cur, renewed_time: now })]);
    });
  }

  /** Replaces the policies its link acts with (its enrolling role's changed). */
  setPolicies(id: string, policies: string[]): Promise<void> {
    return this.#locks.run(id, async () => {
      const cur = await this.get(id);
      if (!cur || cur.policies?.join() === policies.join()) return;
      await this.#s.batch([putJSONOp(id, { ...cur, policies, updated_time: this.#now() })]);
    });
  }

  /** Active agents enrolled by `source`, or by any role of it when it is an auth mount. */
  async enrolledBy(source: string): Promise<string[]> {
    const out: string[] = [];
    for (const id of await this.list()) {
      const rec = await this.get(id);
      if (
        rec?.status === "active" && (rec.source === source || rec.source.startsWith(`${source}/`))
      ) out.push(id);
    }
    return out;
  }

  /**
   * Suspends or re-activates an agent; null for an unknown id. A revoked agent stays revoked:
   * 400, since re-activating it would bring back an identity whose certificates are on the CRL.
   */
  setStatus(id: string, status: "active" | "suspended"): Promise<AgentRecord | null> {
    return this.#locks.run(id, async () => {
      const cur = await this.get(id);
      if (!cur) return null;
      if (cur.status === "revoked") throw new BadRequest(`agent "${id}" is revoked`);
      if (cur.status === status) return cur;
      const next: AgentRecord = { ...cur, status, updated_time: this.#now() };
      await this.#s.batch([putJSONOp(id, next)]);
      return next;
    });
  }

  /** Marks the agent revoked; returns the serials of its unexpired certificates. */
  revoke(id: string): Promise<string[] | null> {
    return this.#locks.run(id, async () => {
      const cur = await this.get(id);
      if (!cur) return null;
      const nowS = Math.floor(this.#now() / 1000);
      const live = cur.certificates.filter((c) => c.expiration > nowS);
      await this.#s.batch([putJSONOp(id, {
        ...cur,
        status: "revoked",
        certificates: live,
        updated_time: this.#now(),
      })]);
      return live.map((c) => c.serial_number);
    });
  }
}
