/**
 * Secret paths as they appear after `data/`, `metadata/` and friends. They become storage keys
 * verbatim, so anything that would make two spellings name one secret, or let a path climb out of
 * its folder in a listing, is refused up front.
 */
import { BadRequest } from "../sdk.ts";

// Control characters are legal in Vault paths but only ever arrive by mistake (or attack), and
// they make audit logs and CLI listings unreadable.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Paths already found valid: a read of the same secret checks nothing again. Bounded. */
const valid = new Set<string>();
const VALID_MAX = 4096;

function checkSegments(path: string): void {
  if (valid.has(path)) return;
  for (const seg of path.split("/")) {
    if (seg === "") throw new BadRequest(`invalid path "${path}": empty path segment`);
    if (seg === "." || seg === "..") {
      throw new BadRequest(`invalid path "${path}": "." and ".." segments are not allowed`);
    }
  }
  if (CONTROL.test(path)) throw new BadRequest(`invalid path: control characters are not allowed`);
  if (valid.size >= VALID_MAX) valid.clear();
  valid.add(path);
}

/** The secret named by `raw`, or "" when the request addressed the bare prefix. */
export function secretPath(raw: string | undefined): string {
  const path = raw ?? "";
  if (path !== "") checkSegments(path);
  return path;
}

/**
 * The folder a LIST addresses: "" for the mount root, otherwise "a/b/". The core appends "/" to
 * list paths, but whether the path parameter keeps it depends on the matcher, so both are taken.
 */
export function folderPath(raw: string | undefined): string {
  const trimmed = (raw ?? "").replace(/\/$/, "");
  if (trimmed === "") return "";
  checkSegments(trimmed);
  return `${trimmed}/`;
}
