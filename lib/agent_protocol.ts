/**
 * Wire format of the agent link (a WebSocket over mTLS): one JSON object per text frame.
 * Every request carries an `id`; the other side answers with `ack` or `error` under the same id.
 * Pushes from core carry their own id and are acknowledged the same way, so neither side has to
 * guess whether a message arrived. Both sides validate what they receive with these schemas.
 */
import * as v from "valibot";

export const PROTOCOL_VERSION = 1;
/** Largest frame either side accepts: a whole KV secret (core accepts bodies this large). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;
export const HEARTBEAT_MS = 30_000;
/** Core closes a link silent for HEARTBEAT_MS * 2 + 15 s; an agent's heartbeat stays below it. */
export const MAX_HEARTBEAT_MS = 60_000;
/** WebSocket close code core sends when the agent (or its certificate) has been revoked. */
export const AGENT_REVOKED_CLOSE = 4004;

const id = v.pipe(v.string(), v.minLength(1), v.maxLength(64));
const MAX_PATH_LENGTH = 1024;

/**
 * Why core would refuse `p` as a path in a frame, or null when it accepts it. The agent checks
 * its config against this too: one bad path refuses a whole `secret:subscribe` frame.
 */
export function logicalPathProblem(p: string): string | null {
  if (p.length === 0) return "is empty";
  if (p.length > MAX_PATH_LENGTH) return `is longer than ${MAX_PATH_LENGTH} characters`;
  if (p.startsWith("/")) return 'must not start with "/"';
  if (p.split("/").some((s) => s === ".." || s === ".")) {
    return 'must not contain "." or ".." segments';
  }
  return null;
}

const logicalPath = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(MAX_PATH_LENGTH),
  v.check((p) => logicalPathProblem(p) === null, "bad path"),
);

export const AgentMessage = v.variant("type", [
  v.strictObject({
    type: v.literal("agent:hello"),
    id,
    version: v.pipe(v.string(), v.maxLength(64)),
    protocol: v.number(),
  }),
  v.strictObject({ type: v.literal("agent:heartbeat"), id }),
  v.strictObject({
    type: v.literal("secret:read"),
    id,
    path: logicalPath,
    version: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  }),
  v.strictObject({
    type: v.literal("secret:subscribe"),
    id,
    paths: v.pipe(v.array(logicalPath), v.maxLength(1000)),
  }),
  v.strictObject({
    type: v.literal("secret:lease_renew"),
    id,
    lease_id: v.pipe(v.string(), v.minLength(1), v.maxLength(1024)),
    increment: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  }),
  v.strictObject({
    type: v.literal("cert:renew"),
    id,
    csr: v.pipe(v.string(), v.minLength(1), v.maxLength(65536)),
  }),
  v.strictObject({ type: v.literal("ack"), id }),
]);
export type AgentMessage = v.InferOutput<typeof AgentMessage>;

export const CoreMessage = v.variant("type", [
  v.object({
    type: v.literal("ack"),
    id,
    data: v.optional(v.nullable(v.record(v.string(), v.unknown()))),
  }),
  v.object({
    type: v.literal("error"),
    id,
    status: v.number(),
    errors: v.array(v.string()),
  }),
  v.object({ type: v.literal("secret:rotated"), id, path: v.string(), version: v.number() }),
  v.object({ type: v.literal("policy:updated"), id }),
  v.object({ type: v.literal("lease:revoked"), id, lease_id: v.string() }),
]);
export type CoreMessage = v.InferOutput<typeof CoreMessage>;

/** Parses one frame; a frame that is not valid JSON or not a known message returns null. */
export function parseFrame<T>(
  schema: v.GenericSchema<unknown, T>,
  raw: unknown,
): { ok: true; msg: T } | { ok: false; id: string | null; error: string } {
  if (typeof raw !== "string") return { ok: false, id: null, error: "frames must be text" };
  if (raw.length > MAX_FRAME_BYTES) return { ok: false, id: null, error: "frame too large" };
  let obj: unknown;
  try {
    obj = JSON.parse(raw);
  } catch {
    return { ok: false, id: null, error: "frame is not JSON" };
  }
  const r = v.safeParse(schema, obj);
  if (r.success) return { ok: true, msg: r.output };
  const rid =
    typeof obj === "object" && obj !== null && typeof (obj as { id?: unknown }).id === "string"
      ? (obj as { id: string }).id
      : null;
  const issue = r.issues[0];
  const where = issue.path?.map((p) => String(p.key)).join(".");
  return { ok: false, id: rid, error: where ? `${where}: ${issue.message}` : issue.message };
}

/** Does a subscription pattern (exact, or a prefix ending in "*") cover `path`? */
export function subscriptionMatches(pattern: string, path: string): boolean {
  return pattern.endsWith("*") ? path.startsWith(pattern.slice(0, -1)) : pattern === path;
}
