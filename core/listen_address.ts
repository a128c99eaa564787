/** `HOST:PORT` listen addresses (`[::1]:8200` for IPv6; an empty host means 0.0.0.0). */

export function parseAddress(a: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(a);
  if (!m) throw new Error(`invalid listen address "${a}" (want HOST:PORT)`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid port in "${a}"`);
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}

/** Why an address is not a valid `HOST:PORT`, or null when it is. */
export function addressProblem(a: string): string | null {
  try {
    parseAddress(a);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
