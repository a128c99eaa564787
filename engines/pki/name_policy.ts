/**
 * Whether a role lets a certificate carry a name. Follows Vault's rules: localhost, any name,
 * allowed_domains as bare domains, subdomains or globs, wildcards only where subdomains are
 * allowed, hostname syntax when enforce_hostnames, IP SANs on a switch, URI SANs by glob.
 */
import { BadRequest } from "../sdk.ts";
import type { RoleRecord } from "./role.ts";

// At most 63 characters: RFC 1035's label limit, which Vault enforces through idna's
// VerifyDNSLength before this pattern.
const LABEL = "([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9])";
const HOSTNAME = new RegExp(`^(${LABEL}\\.)*${LABEL}\\.?$`);
/** RFC 1035's limit on a whole name, not counting a final dot (idna's VerifyDNSLength). */
const MAX_NAME = 253;

/** Hostname syntax with DNS lengths, as Vault checks it under enforce_hostnames. */
export function validHostname(host: string): boolean {
  const bare = host.endsWith(".") ? host.slice(0, -1) : host;
  return bare.length <= MAX_NAME && HOSTNAME.test(host);
}

/** go-glob semantics: `*` matches any run of characters, dots included; nothing else is special. */
export function globMatch(pattern: string, s: string): boolean {
  const parts = pattern.split("*");
  if (parts.length === 1) return pattern === s;
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!s.startsWith(first) || s.length < first.length + last.length) return false;
  let at = first.length;
  for (const mid of parts.slice(1, -1)) {
    const i = s.indexOf(mid, at);
    if (i < 0) return false;
    at = i + mid.length;
  }
  return s.length - last.length >= at && s.endsWith(last);
}

function allowedByDomains(role: RoleRecord, name: string, wildcard: boolean): boolean {
  const lower = name.toLowerCase();
  for (const raw of role.allowed_domains) {
    const d = raw.toLowerCase();
    // A wildcard covers subdomains, so it needs allow_subdomains even when the base is bare.
    if (!wildcard && role.allow_bare_domains && lower === d) return true;
    if (role.allow_subdomains && (lower.endsWith("." + d) || (wildcard && lower === d))) {
      return true;
    }
    if (role.allow_glob_domains && d.includes("*")) {
      if (globMatch(d, wildcard ? "*." + lower : lower)) return true;
    }
  }
  return false;
}

/** RFC 5321's dot-atom local part: printable ASCII, no spaces, quotes, "@" or controls. */
const EMAIL_LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/;

/** A DNS name or email address (as CN or SAN) against the role. */
export function nameAllowed(role: RoleRecord, name: string): boolean {
  if (name === "") return false;
  const at = name.indexOf("@");
  // One "@" and a plain local part, as Vault splits in two: with a second "@" (or a NUL) one
  // program reads "admin@evil.com" where the domain check saw the part after the last "@".
  if (at >= 0 && (name.indexOf("@", at + 1) >= 0 || !EMAIL_LOCAL_PART.test(name.slice(0, at)))) {
    return false;
  }
  const isEmail = at > 0;
  let host = isEmail ? name.slice(at + 1) : name;
  const wildcard = !isEmail && host.startsWith("*.");
  if (wildcard) {
    if (!role.allow_wildcard_certificates) return false;
    host = host.slice(2);
  }
  if (role.enforce_hostnames && !validHostname(host)) return false;
  // Wildcards refused means any "*", not only a leading "*." (allow_any_name included).
  if (!role.allow_wildcard_certificates && host.includes("*")) return false;
  if (role.allow_any_name) return true;
  // Without hostname enforcement a "*" beyond the leading label would pass the suffix checks.
  if (host.includes("*")) return false;
  if (
    role.allow_localhost && !wildcard &&
    ["localhost", "localdomain", "localhost.localdomain"].includes(host.toLowerCase())
  ) return true;
  return allowedByDomains(role, host, wildcard);
}

export function uriAllowed(role: RoleRecord, uri: string): boolean {
  return role.allowed_uri_sans.some((g) => globMatch(g, uri));
}

export interface RequestedNames {
  commonName: string;
  dns: string[];
  email: string[];
  ip: string[];
  uri: string[];
}

/**
 * A name as Vault's errors show it (unquoted), cut past MAX_NAME + 3 characters (the longest
 * DNS name with "*." and a final dot): request schemas bound names, but a CSR's may be longer,
 * and the error goes to the client and into the audit.
 */
function shown(name: string): string {
  return name.length > MAX_NAME + 3 ? name.slice(0, MAX_NAME + 3) + "…" : name;
}

/** Throws the 400 Vault gives for the first name the role refuses. */
export function enforceRole(role: RoleRecord, n: RequestedNames): void {
  if (n.commonName !== "" && !nameAllowed(role, n.commonName)) {
    throw new BadRequest(`common name ${shown(n.commonName)} not allowed by this role`);
  }
  for (const name of [...n.dns, ...n.email]) {
    if (!nameAllowed(role, name)) {
      throw new BadRequest(`subject alternative name ${shown(name)} not allowed by this role`);
    }
  }
  if (n.ip.length && !role.allow_ip_sans) {
    throw new BadRequest(
      `IP Subject Alternative Names are not allowed in this role, but was provided ${n.ip[0]}`,
    );
  }
  for (const uri of n.uri) {
    if (role.allowed_uri_sans.length === 0) {
      throw new BadRequest(
        `URI Subject Alternative Names are not allowed in this role, but was provided ${
          shown(uri)
        }`,
      );
    }
    if (!uriAllowed(role, uri)) {
      throw new BadRequest(`URI Subject Alternative Name ${shown(uri)} not allowed by this role`);
    }
  }
}
