/**
 * API path helpers. User-supplied names are percent-encoded segment by segment, so a `?` or `#`
 * in a secret name stays part of the path instead of starting a query or fragment.
 * @module
 */

export function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

export function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, "");
}

/** Joins segments with single slashes, dropping empty ones; keeps a trailing slash on the last. */
export function joinPath(...parts: string[]): string {
  const last = parts[parts.length - 1] ?? "";
  const joined = parts.map(trimSlashes).filter((p) => p !== "").join("/");
  return last.endsWith("/") && joined !== "" ? `${joined}/` : joined;
}
