/** Messages between LibsqlStorage (main thread) and its writer worker. */
import type { AuditRow, PhysicalOp } from "./storage.ts";

export type WriterRequest =
  | { t: "open"; path: string; busyTimeoutMs: number; fullMode: string }
  | { t: "tx"; ops: PhysicalOp[]; audit: AuditRow[] }
  | { t: "close" };

export type WriterReply =
  | { t: "ready" }
  | { t: "failed"; error: string }
  | { t: "done"; ok: true }
  | { t: "done"; ok: false; error: string; head: { seq: number; hash: string } }
  | { t: "closed" };

/** Messages between LibsqlStorage and its checkpointer worker. */
export type CheckpointerRequest =
  | { t: "open"; path: string; busyTimeoutMs: number; intervalMs: number }
  | { t: "close" };

export type CheckpointerReply =
  | { t: "ready" }
  | { t: "failed"; error: string }
  | { t: "closed" };
