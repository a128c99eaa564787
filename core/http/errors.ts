/** The one place that turns errors into HTTP responses. */
import { BadRequest, HttpError } from "../../lib/errors.ts";
import { StorageError } from "../storage/storage.ts";
import { AuditDataTooDeep, MAX_DATA_DEPTH } from "../audit/entry.ts";
import { log } from "../log.ts";

const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" };

export function errorResponse(e: unknown, requestId: string): Response {
  if (bodyGone(e)) {
    // Nobody reads this answer: the client hung up mid-upload, or a shutdown closed the
    // connection after answering it 503 (core/server.ts). Not an internal error.
    log.info("request body incomplete: the connection was closed", { request_id: requestId });
    e = new BadRequest("request body incomplete: the connection was closed");
  } else if (e instanceof AuditDataTooDeep) {
    // The audit refuses data nested past its limit (the body parser's lower limit keeps any body
    // from getting there): that is the client's data, not an internal error.
    e = new BadRequest(
      `request data nested too deeply (at most ${MAX_DATA_DEPTH} levels of objects and arrays)`,
    );
  }
  if (e instanceof HttpError) {
    const body: Record<string, unknown> = { errors: e.errors };
    if (e.data) body.data = e.data;
    return new Response(JSON.stringify(body), {
      status: e.status,
      headers: { ...JSON_HEADERS, ...e.headers },
    });
  }
  // A storage failure (disk full, I/O error, storage closed) says why, to the client and in the
  // log: its message is built from SQLite's error text and our own words only (storage.ts), as
  // Vault answers 500 with its storage backend's error.
  if (e instanceof StorageError) {
    log.error("storage error", {
      request_id: requestId,
      error_type: e.name,
      error: e.message,
    });
    return new Response(JSON.stringify({ errors: [e.message] }), {
      status: 500,
      headers: JSON_HEADERS,
    });
  }
  // Unknown failures keep their detail server-side; the client learns only that it was internal.
  // Only the error's type and stack frames are logged, never its message: a message can quote
  // data (V8's JSON.parse errors quote their input), and a secret must never reach a log line.
  const err = e instanceof Error ? e : new Error("non-error thrown");
  const frames = (err.stack ?? "").split("\n").filter((l) => l.trimStart().startsWith("at "));
  log.error("internal error", {
    request_id: requestId,
    error_type: err.name,
    frames: frames.slice(0, 8).map((l) => l.trim()),
  });
  return new Response(JSON.stringify({ errors: ["internal error"] }), {
    status: 500,
    headers: JSON_HEADERS,
  });
}

/** Deno's error for a request body read after its connection went away. */
function bodyGone(e: unknown): boolean {
  return e instanceof Deno.errors.BadResource && /\bbody\b/i.test(e.message);
}

export function jsonResponse(body: unknown, status = 200): Response {
  return jsonTextResponse(JSON.stringify(body), status);
}

/**
 * A JSON reply from its text. The headers are set on the built response: handing them to the
 * constructor costs several times more on Deno (a WebIDL record conversion), on every reply.
 */
export function jsonTextResponse(text: string, status = 200): Response {
  const res = new Response(text, { status });
  res.headers.set("content-type", "application/json");
  res.headers.set("cache-control", "no-store");
  return res;
}
