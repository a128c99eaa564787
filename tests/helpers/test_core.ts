/** Starts a real core (temp libSQL file, real HTTP on a free 127.0.0.1 port) for a test. */
import assert from "node:assert/strict";
import { createCore, serve } from "../../core/server.ts";
import { decodeShare } from "../../core/seal/seal.ts";
import type { Core } from "../../core/core.ts";
import { setLogLevel } from "../../core/log.ts";

setLogLevel("warn");

/** Response bodies in tests are read loosely; assertions pin the fields that matter. */
// deno-lint-ignore no-explicit-any
export type Json = any;

export interface TestCore {
  url: string;
  dir: string;
  dbFile: string;
  core: Core;
  rootToken: string;
  unsealKeys: string[];
  req(
    method: string,
    path: string,
    body?: unknown,
    token?: string | null,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Json; text: string; headers: Headers }>;
  close(): Promise<void>;
}

export interface TestCoreOptions {
  /** Leave the core sealed and uninitialised. */
  uninitialized?: boolean;
  shares?: number;
  threshold?: number;
  maxRequestSize?: number;
  now?: () => number;
  trustedProxies?: string[];
  alertWebhookUrl?: string;
  /** Milliseconds before a request is answered 503 (core's default otherwise). */
  requestTimeoutMs?: number;
  /** Token and lease sweep interval; 0 (the default here) leaves tidy to the test. */
  tidyIntervalMs?: number;
}

export async function startTestCore(o: TestCoreOptions = {}): Promise<TestCore> {
  const dir = await Deno.makeTempDir({ prefix: "secrethub-test-" });
  const dbFile = `${dir}/secrethub.db`;
  const { core, app } = await createCore(dbFile, {
    tidyIntervalMs: o.tidyIntervalMs ?? 0,
    maxRequestSize: o.maxRequestSize,
    now: o.now,
    trustedProxies: o.trustedProxies,
    alertWebhookUrl: o.alertWebhookUrl,
    requestTimeoutMs: o.requestTimeoutMs,
  });
  let rootToken = "";
  let unsealKeys: string[] = [];
  if (!o.uninitialized) {
    const shares = o.shares ?? 1;
    const init = await core.init(shares, o.threshold ?? 1);
    rootToken = init.root_token;
    unsealKeys = init.keys_base64;
    for (const k of unsealKeys.slice(0, o.threshold ?? 1)) await core.unseal(decodeShare(k));
  }
  const srv = await serve(core, app, { address: "127.0.0.1:0" });
  const t: TestCore = {
    url: srv.url,
    dir,
    dbFile,
    core,
    rootToken,
    unsealKeys,
    async req(method, path, body, token, headers = {}) {
      const h: Record<string, string> = { ...headers };
      const tok = token === undefined ? t.rootToken : token;
      if (tok) h["x-vault-token"] = tok;
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === "string" ? body : JSON.stringify(body);
        h["content-type"] ??= method === "PATCH"
          ? "application/merge-patch+json"
          : "application/json";
      }
      const res = await fetch(srv.url + path, { method, headers: h, body: payload });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        parsed = null;
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    },
    async close() {
      await srv.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  return t;
}

/** A request that must answer `status`; returns the parsed body. */
export async function call(
  t: TestCore,
  method: string,
  path: string,
  body?: unknown,
  status = 200,
  token?: string | null,
): Promise<Json> {
  const r = await t.req(method, `/v1/${path}`, body, token);
  assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
  return r.body;
}

/** Runs `fn` against a fresh test core and closes it afterwards, whatever happened. */
export async function withTestCore(
  fn: (t: TestCore) => Promise<void>,
  o?: TestCoreOptions,
): Promise<void> {
  const t = await startTestCore(o);
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}
