/** What the agent hub tests share: an agent link made as the agent makes it. */
import { AgentLink, type LinkCredentials, type LinkOptions } from "../../agent/link.ts";
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
