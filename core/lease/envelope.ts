/** How a built-in handler fills the response envelope's lease fields (sys/leases/renew). */
import type { CoreResponse } from "../router/types.ts";

export interface LeaseEnvelope {
  lease_id: string;
  /** Seconds. */
  lease_duration: number;
  renewable: boolean;
}

/**
 * A CoreResponse that carries top-level lease fields. Kept here rather than on CoreResponse so
 * the lease manager stays in one folder; the pipeline reads it structurally.
 */
export interface LeasedResponse extends CoreResponse {
  lease?: LeaseEnvelope;
}
