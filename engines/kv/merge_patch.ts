/** JSON Merge Patch (RFC 7396), which is what Vault applies for PATCH on data and metadata. */

export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== "object" || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * Returns a new value; neither input is modified. Keys are defined, not assigned, because secret
 * data may legitimately contain a "__proto__" key and assignment would change the prototype.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = {};
  if (isPlainObject(target)) {
    for (const [k, val] of Object.entries(target)) defineOwn(out, k, val);
  }
  for (const [k, val] of Object.entries(patch)) {
    if (val === null) delete out[k];
    else defineOwn(out, k, mergePatch(Object.hasOwn(out, k) ? out[k] : undefined, val));
  }
  return out;
}

function defineOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
