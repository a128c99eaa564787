import assert from "node:assert/strict";
import {
  AgentMessage,
  CoreMessage,
  parseFrame,
  subscriptionMatches,
} from "../../lib/agent_protocol.ts";
import { kvDataPath } from "../../core/agents/hub.ts";

Deno.test("agent frames: known messages parse, unknown keys and types are refused with the id", () => {
  const ok = parseFrame(
    AgentMessage,
    JSON.stringify({ type: "secret:read", id: "a1", path: "secret/data/x" }),
  );
  assert.equal(ok.ok, true);
  const extra = parseFrame(
    AgentMessage,
    JSON.stringify({ type: "agent:heartbeat", id: "a2", x: 1 }),
  );
  assert.deepEqual(extra.ok ? null : extra.id, "a2");
  const unknown = parseFrame(AgentMessage, JSON.stringify({ type: "rm -rf", id: "a3" }));
  assert.equal(unknown.ok, false);
  assert.equal(parseFrame(AgentMessage, "{not json").ok, false);
  assert.equal(parseFrame(AgentMessage, new Uint8Array([1])).ok, false);
});

Deno.test("agent frames: paths that climb out or are absolute are refused", () => {
  for (const path of ["../sys/seal", "secret/../../x", "/secret/data/x", "secret/./x", ""]) {
    const r = parseFrame(AgentMessage, JSON.stringify({ type: "secret:read", id: "1", path }));
    assert.equal(r.ok, false, path);
  }
});

Deno.test("agent frames: oversized frames are refused before parsing", () => {
  const r = parseFrame(CoreMessage, "x".repeat(17 * 1024 * 1024));
  assert.deepEqual(r, { ok: false, id: null, error: "frame too large" });
});

Deno.test("subscriptions: exact paths and trailing-* prefixes", () => {
  assert.equal(subscriptionMatches("secret/data/web/db", "secret/data/web/db"), true);
  assert.equal(subscriptionMatches("secret/data/web/db", "secret/data/web/dbx"), false);
  assert.equal(subscriptionMatches("secret/data/web/*", "secret/data/web/db"), true);
  assert.equal(subscriptionMatches("secret/data/web/*", "secret/data/api/db"), false);
});

Deno.test("kv writes map to the data path agents subscribe to", () => {
  assert.equal(kvDataPath("secret/data/web/db"), "secret/data/web/db");
  assert.equal(kvDataPath("secret/metadata/web/db"), "secret/data/web/db");
  assert.equal(kvDataPath("secret/destroy/web/db"), "secret/data/web/db");
  assert.equal(kvDataPath("secret/config"), null);
});
