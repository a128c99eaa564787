/**
 * Freezes `v` and everything reachable from it. Values shared between requests (cached logins,
 * parsed stored values) are frozen so that a caller which mutates one fails loudly instead of
 * changing what every later request sees.
 */
export function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
