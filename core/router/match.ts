/** Compiles path-table patterns once; matching is one anchored regex per entry, in table order. */
import type { CompiledPath, CorePathSpec } from "./types.ts";

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function compilePaths(specs: CorePathSpec[]): CompiledPath[] {
  return specs.map((spec) => {
    const names: string[] = [];
    const parts = spec.pattern.split("/").map((seg, i, all) => {
      const m = /^:([a-zA-Z_]+)([*+]?)$/.exec(seg);
      const sep = i === 0 ? "" : "/";
      if (!m) return sep + escape(seg);
      names.push(m[1]!);
      if (m[2] === "+") return sep + "(.+)";
      if (m[2] === "*") {
        // `a/:rest*` also matches bare "a" (and "a/").
        return i === all.length - 1 ? `(?:${sep}(.*))?` : sep + "(.*)";
      }
      return sep + "([^/]+)";
    });
    return { spec, re: new RegExp(`^${parts.join("")}$`), names };
  });
}

export function matchPath(
  table: CompiledPath[],
  path: string,
): { compiled: CompiledPath; params: Record<string, string> } | null {
  for (const c of table) {
    const m = c.re.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    c.names.forEach((n, i) => params[n] = m[i + 1] ?? "");
    return { compiled: c, params };
  }
  return null;
}
