/** The one place that turns errors into HTTP responses. */
import { HttpError } from "../../lib/errors.ts";
import { log } from "../log.ts";

const JSON_HEADERS = { "content-type": "application/json", "cache-control": "no-store" };

export function errorResponse(e: unknown, requestId: string): Response {
  if (e instanceof HttpError) {
    const body: Record<string, unknown> = { errors: e.errors };
    if (e.data) body.data = e.data;
    return new Response(JSON.stringify(body), {
      status: e.status,
      headers: { ...JSON_HEADERS, ...e.headers },
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
