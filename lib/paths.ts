/**
 * POSIX path helpers for the agent, which runs on Linux devices; `node:path` would pull the Node
 * compatibility layer (~1.5 MB of memory) into the process for five functions.
 */
export function isAbsolute(p: string): boolean {
  return p.startsWith("/");
}

/** Joins and normalises: "." and empty segments dropped, ".." pops (never above the root). */
export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  const abs = joined.startsWith("/");
  const out: string[] = [];
  for (const seg of joined.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length && out[out.length - 1] !== "..") out.pop();
      else if (!abs) out.push("..");
    } else out.push(seg);
  }
  const trailing = joined.endsWith("/") && out.length ? "/" : "";
  const body = out.join("/") + trailing;
  return abs ? "/" + body : body || ".";
}

/** Like node's: the rightmost absolute part wins, relative parts are taken from the cwd. */
export function resolve(...parts: string[]): string {
  let i = parts.length - 1;
  while (i > 0 && !isAbsolute(parts[i]!)) i--;
  const from = parts.slice(Math.max(i, 0));
  const r = from.length && isAbsolute(from[0]!) ? join(...from) : join(Deno.cwd(), ...from);
  return r.length > 1 ? r.replace(/\/+$/, "") : r;
}

export function dirname(p: string): string {
  const trimmed = p.length > 1 ? p.replace(/\/+$/, "") : p;
  const i = trimmed.lastIndexOf("/");
  if (i < 0) return ".";
  return i === 0 ? "/" : trimmed.slice(0, i);
}

export function basename(p: string): string {
  const trimmed = p.length > 1 ? p.replace(/\/+$/, "") : p;
  return trimmed.slice(trimmed.lastIndexOf("/") + 1);
}
