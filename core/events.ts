/**
 * In-process notifications of committed changes, for the agent hub's pushes. Emitted only after
 * a write has been acknowledged by storage, so a listener never announces something that could
 * still roll back. Listeners must not throw and must not block: the emitter isolates them.
 */
export interface WriteEvent {
  /** Full logical path as the ACL saw it ("secret/data/web/db"). */
  path: string;
  operation: string;
  mountType: string;
  /** KV version the write produced, when the engine reported one. */
  version?: number;
}

type Listener<T> = (e: T) => void;

export class CoreEvents {
  #writes = new Set<Listener<WriteEvent>>();
  #policies = new Set<Listener<string>>();
  #leases = new Set<Listener<string>>();

  onWrite(l: Listener<WriteEvent>): () => void {
    this.#writes.add(l);
    return () => this.#writes.delete(l);
  }

  onPolicyChange(l: Listener<string>): () => void {
    this.#policies.add(l);
    return () => this.#policies.delete(l);
  }

  /** A lease was revoked (by request, expiry, its token's revocation or an unmount). */
  onLeaseRevoked(l: Listener<string>): () => void {
    this.#leases.add(l);
    return () => this.#leases.delete(l);
  }

  emitWrite(e: WriteEvent): void {
    for (const l of this.#writes) safely(l, e);
  }

  emitPolicyChange(name: string): void {
    for (const l of this.#policies) safely(l, name);
  }

  /** Called once the lease record's deletion has been committed. */
  emitLeaseRevoked(leaseId: string): void {
    for (const l of this.#leases) safely(l, leaseId);
  }
}

function safely<T>(l: Listener<T>, e: T): void {
  try {
    l(e);
  } catch {
    // A broken listener must not fail the request that triggered it.
  }
}
