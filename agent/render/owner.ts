/**
 * Resolves the `user`/`group` of a template destination to numeric ids. Names are looked up in
 * /etc/passwd and /etc/group (what an edge image without NSS modules has); numbers pass through.
 */

export interface Owner {
  uid?: number;
  gid?: number;
}

export interface OwnerFiles {
  passwd: string;
  group: string;
}

const SYSTEM_FILES: OwnerFiles = { passwd: "/etc/passwd", group: "/etc/group" };

/** Synchronous so config validation can resolve owners once, at start-up. */
export function resolveOwnerSync(
  spec: { user?: string | undefined; group?: string | undefined },
  files: OwnerFiles = SYSTEM_FILES,
): Owner {
  const out: Owner = {};
  if (spec.user !== undefined) out.uid = lookupId(spec.user, files.passwd, "user");
  if (spec.group !== undefined) out.gid = lookupId(spec.group, files.group, "group");
  return out;
}

export function resolveOwner(
  spec: { user?: string | undefined; group?: string | undefined },
  files: OwnerFiles = SYSTEM_FILES,
): Promise<Owner> {
  try {
    return Promise.resolve(resolveOwnerSync(spec, files));
  } catch (e) {
    return Promise.reject(e);
  }
}

function lookupId(name: string, file: string, kind: string): number {
  if (/^[0-9]{1,10}$/.test(name)) return Number(name);
  let text = "";
  try {
    text = Deno.readTextFileSync(file);
  } catch { /* treated as not found */ }
  for (const line of text.split("\n")) {
    const cols = line.split(":");
    if (cols[0] === name && cols[2] !== undefined && /^[0-9]+$/.test(cols[2])) {
      return Number(cols[2]);
    }
  }
  throw new Error(`Cannot find ${kind} "${name}" in ${file}`);
}
