/**
 * The alert hook: break-glass (emergency_access) use is logged at warn level and, when
 * `alert_webhook_url` is configured, POSTed there as JSON. Delivery is best effort and never
 * delays or fails the request; the audit entry (marked `alert: true`) is the durable record.
 */
import { log } from "./log.ts";

export interface AlertEvent {
  event: "break_glass_access";
  time: string;
  request_id: string;
  path: string;
  operation: string;
  remote_address: string;
  /** HMAC of the token accessor, as in the audit log; never the token. */
  token_accessor_hmac: string;
  policies: string[];
}

export class AlertHook {
  readonly #url: string | undefined;
  sent = 0;
  failed = 0;

  constructor(url?: string) {
    this.#url = url;
  }

  emit(e: AlertEvent): void {
    log.warn("break-glass access", { ...e });
    if (!this.#url) return;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 5000);
    fetch(this.#url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(e),
      signal: ctl.signal,
    }).then(async (r) => {
      await r.body?.cancel();
      if (r.ok) this.sent++;
      else this.failed++;
    }).catch(() => this.failed++).finally(() => clearTimeout(timer));
  }
}
