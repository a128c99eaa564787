/**
 * What the agent service needs from `secrethub agent exec`: which paths the child's environment
 * uses, and start/update/stop given a way to look secrets up.
 */
import type { SecretLookup } from "./template/mod.ts";

export interface ExecHook {
  paths(): string[];
  start(lookup: SecretLookup): Promise<void>;
  update(lookup: SecretLookup): Promise<void>;
  stop(): Promise<void>;
  /** Resolves with the child's exit code when it exits on its own. */
  exited?: Promise<number>;
}
