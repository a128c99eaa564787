/**
 * Named ACL policies stored through the barrier at `sys/policy/<name>`. Parsed policies and the
 * Acl built for each distinct policy set are cached; any write or delete drops the caches, so a
 * change takes effect for live tokens on their next request.
 */
import { BadRequest } from "../../lib/errors.ts";
import { policyName, RESPONSE_WRAPPING_POLICY } from "../../lib/fields.ts";
import type { StorageView } from "../../engines/sdk.ts";
import { readJSON, writeJSON } from "../../engines/sdk.ts";
import { KeyedLock } from "../auth/approle/lock.ts";
import { Acl } from "./acl.ts";
import { DEFAULT_POLICY_HCL } from "./defaults.ts";
import { parsePolicy } from "./parse.ts";
import type { Policy } from "./types.ts";

interface StoredPolicy {
  name: string;
  policy: string;
  modified: string;
  version: number;
  /** Instantiated from a break-glass template: every use is loudly audited and alerted. */
  alert?: boolean;
  /** The template it came from, if any. */
  template?: string;
}

const ACL_CACHE_MAX = 10_000;

export class PolicyStore {
  readonly #s: StorageView;
  #parsed = new Map<string, Policy | null>();
  #acls = new Map<string, Acl>();
  #alerts = new Map<string, boolean>();
  #generation = 0;
  /** Writes and deletes, one at a time per policy name (see #serial). */
  readonly #writes = new KeyedLock();

  constructor(storage: StorageView) {
    this.#s = storage;
  }

  get generation(): number {
    return this.#generation;
  }

  async ensureDefault(): Promise<void> {
    await this.#serial("default", async () => {
      if (!await this.#s.get("default")) await this.#storeNow("default", DEFAULT_POLICY_HCL);
    });
  }

  /**
   * Runs `fn` after every earlier write or delete of the policy `name` has finished (FIFO): a
   * write reads the stored version and writes it back one higher, so two overlapping writes
   * would both store the same version (and the older text could land last). One process owns
   * the storage (the directory lock), so an in-process queue per name is enough.
   */
  #serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.#writes.run(name, fn);
  }

  #store(
    name: string,
    text: string,
    extra: { alert?: boolean; template?: string } = {},
  ): Promise<void> {
    return this.#serial(name, () => this.#storeNow(name, text, extra));
  }

  async #storeNow(
    name: string,
    text: string,
    extra: { alert?: boolean; template?: string } = {},
  ): Promise<void> {
    const prev = await readJSON<StoredPolicy>(this.#s, name);
    const rec: StoredPolicy = {
      name,
      policy: text,
      modified: new Date().toISOString(),
      version: (prev?.version ?? 0) + 1,
    };
    if (extra.alert) rec.alert = true;
    if (extra.template) rec.template = extra.template;
    await writeJSON(this.#s, name, rec);
    this.#invalidate();
  }

  #invalidate(): void {
    this.#parsed.clear();
    this.#acls.clear();
    this.#alerts.clear();
    this.#generation++;
  }

  async write(
    name: string,
    text: string,
    extra: { alert?: boolean; template?: string } = {},
  ): Promise<void> {
    const lower = policyName(name);
    if (lower === "root") throw new BadRequest("cannot update root policy");
    if (lower === RESPONSE_WRAPPING_POLICY) {
      throw new BadRequest(`cannot update "${RESPONSE_WRAPPING_POLICY}" policy`);
    }
    if (lower === "default" && extra.template) {
      throw new BadRequest("a template cannot overwrite the default policy");
    }
    // Parsing first rejects a bad policy before anything is stored; base64 input is kept decoded.
    await this.#store(lower, parsePolicy(lower, text).raw, extra);
  }

  /**
   * The cached answers for a policy set, without waiting: what the request path asks first, so
   * a warm request does not pay for two promises. Undefined when either is not cached yet.
   */
  cachedDecider(policies: string[]): { acl: Acl; alert: boolean } | undefined {
    // A cached token entry hands in the same array every time: skip building the key then.
    const same = this.#byArray.get(policies);
    if (same !== undefined && same.generation === this.#generation) return same.decider;
    const key = policies.join(",");
    const acl = this.#acls.get(key);
    const alert = this.#alerts.get(key);
    if (acl === undefined || alert === undefined) return undefined;
    const decider = { acl, alert };
    this.#byArray.set(policies, { generation: this.#generation, decider });
    return decider;
  }

  #byArray = new WeakMap<
    string[],
    { generation: number; decider: { acl: Acl; alert: boolean } }
  >();

  /** Whether a token with these policies uses a break-glass policy (cached per policy set). */
  async alerting(policies: string[]): Promise<boolean> {
    const key = policies.join(",");
    const hit = this.#alerts.get(key);
    if (hit !== undefined) return hit;
    const gen = this.#generation;
    let alert = false;
    for (const n of policies) {
      // Names are stored lowercased; a token from before tokens' names were lowercased may not be.
      const stored = n === "root" ? null : await readJSON<StoredPolicy>(this.#s, n.toLowerCase());
      if (stored?.alert) alert = true;
    }
    if (gen === this.#generation) {
      if (this.#alerts.size >= ACL_CACHE_MAX) this.#alerts.clear();
      this.#alerts.set(key, alert);
    }
    return alert;
  }

  async read(name: string): Promise<StoredPolicy | null> {
    const lower = policyName(name);
    if (lower === "root") return { name: "root", policy: "", modified: "", version: 0 };
    return await readJSON<StoredPolicy>(this.#s, lower);
  }

  async delete(name: string): Promise<void> {
    const lower = policyName(name);
    if (lower === "root" || lower === "default" || lower === RESPONSE_WRAPPING_POLICY) {
      throw new BadRequest(`cannot delete ${lower} policy`);
    }
    await this.#serial(lower, async () => {
      await this.#s.delete(lower);
      this.#invalidate();
    });
  }

  async list(): Promise<string[]> {
    const names = (await this.#s.list("")).filter((n) => !n.endsWith("/"));
    return [...new Set([...names, "root"])].sort();
  }

  async #policy(given: string): Promise<Policy | null> {
    // Stored names are lowercase; a token or role from before they were lowercased on tokens
    // may still carry "MyPol", which is the policy "mypol" (Vault's names are case-insensitive).
    const name = policyName(given);
    // Built in: a stored one (written before the name was refused) grants nothing.
    if (name === RESPONSE_WRAPPING_POLICY) return null;
    if (this.#parsed.has(name)) return this.#parsed.get(name)!;
    const stored = await readJSON<StoredPolicy>(this.#s, name);
    const p = stored ? parsePolicy(name, stored.policy, true) : null;
    this.#parsed.set(name, p);
    return p;
  }

  /** The Acl for a token's policy set; unknown policy names grant nothing. */
  async acl(policies: string[]): Promise<Acl> {
    const key = policies.join(",");
    const hit = this.#acls.get(key);
    if (hit) return hit;
    const gen = this.#generation;
    const root = policies.includes("root");
    const loaded: Policy[] = [];
    for (const n of policies) {
      if (n === "root") continue;
      const p = await this.#policy(n);
      if (p) loaded.push(p);
    }
    const acl = new Acl(loaded, { root });
    // A policy change while loading would make this Acl stale; don't cache it then.
    if (gen === this.#generation) {
      if (this.#acls.size >= ACL_CACHE_MAX) this.#acls.clear();
      this.#acls.set(key, acl);
    }
    return acl;
  }
}
