/** Reads a request body within the size limit and turns it (or the query) into request data. */
import { BadRequest, PayloadTooLarge } from "../../lib/errors.ts";

export async function readBody(req: Request, limit: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) throw new PayloadTooLarge();
  if (!req.body) return {};
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new PayloadTooLarge();
    }
    chunks.push(value);
  }
  if (size === 0) return {};
  const buf = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    buf.set(c, off);
    off += c.length;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    throw new BadRequest("request body is not valid UTF-8");
  }
  const ctype = req.headers.get("content-type") ?? "";
  const trimmed = text.trimStart();
  // `curl -d '{...}'` labels JSON as a form; like Vault, a body that opens with "{" is JSON.
  if (ctype.startsWith("application/x-www-form-urlencoded") && !trimmed.startsWith("{")) {
    return fromQuery(new URLSearchParams(text));
  }
  if (trimmed === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadRequest("failed to parse JSON input: invalid JSON");
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new BadRequest("failed to parse JSON input: the body must be a JSON object");
  }
  return parsed as Record<string, unknown>;
}

const SKIP = new Set(["list", "help"]);

export function fromQuery(q: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of q) {
    if (SKIP.has(k)) continue;
    const prev = out[k];
    // Repeated keys become a list, like Go's url.Values.
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

export function truthy(v: string | null): boolean {
  return v !== null && ["true", "1", "t", "TRUE", "True", ""].includes(v);
}
