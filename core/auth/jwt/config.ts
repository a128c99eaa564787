/** auth/jwt/config: where keys come from and which issuer to trust. Written whole, like Vault. */
import { X509Certificate } from "node:crypto";
import { readJSON, type StorageView, writeJSON } from "../../../engines/sdk.ts";
import { BadRequest } from "../../../lib/errors.ts";
import * as fields from "../../../lib/fields.ts";
import { v } from "../../../lib/fields.ts";
import { ALGORITHMS, pemUsable } from "./keys.ts";

export interface JwtConfig {
  jwks_url: string;
  jwks_ca_pem: string;
  jwt_validation_pubkeys: string[];
  bound_issuer: string;
  jwt_supported_algs: string[];
}

const httpUrl = v.pipe(
  v.string("must be a string"),
  v.check(
    (s) => s === "" || /^https?:\/\/[^\s]+$/i.test(s) && URL.canParse(s),
    "must be an http(s) URL",
  ),
);

/** A list of PEMs; never split on commas like other lists, a single PEM may come as a string. */
const pemList = v.pipe(
  v.union([v.array(v.string()), v.string()], "must be a list of PEM strings"),
  v.transform((x) => (Array.isArray(x) ? x : [x]).map((s) => s.trim()).filter((s) => s !== "")),
  v.maxLength(100, "too many keys"),
);

export const configSchema = v.looseObject({
  // A discovery URL left unused would leave the operator believing its issuer is trusted.
  oidc_discovery_url: v.optional(
    v.pipe(
      v.string("must be a string"),
      v.value("", "is not supported: use jwks_url or jwt_validation_pubkeys"),
    ),
  ),
  jwks_url: v.optional(httpUrl),
  jwks_ca_pem: v.optional(v.string("must be a string")),
  jwt_validation_pubkeys: v.optional(pemList),
  bound_issuer: v.optional(v.string("must be a string")),
  jwt_supported_algs: v.optional(v.pipe(
    fields.stringList,
    v.check(
      (l) => l.every((a) => (ALGORITHMS as readonly string[]).includes(a)),
      `must be among ${ALGORITHMS.join(", ")}`,
    ),
  )),
});

export type ConfigInput = v.InferOutput<typeof configSchema>;

function isCertificate(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

/** Validates a whole config; every key must import now so a typo fails here, not at login. */
export async function buildConfig(d: ConfigInput): Promise<JwtConfig> {
  const c: JwtConfig = {
    jwks_url: d.jwks_url ?? "",
    jwks_ca_pem: d.jwks_ca_pem?.trim() ?? "",
    jwt_validation_pubkeys: d.jwt_validation_pubkeys ?? [],
    bound_issuer: d.bound_issuer ?? "",
    jwt_supported_algs: d.jwt_supported_algs ?? [],
  };
  const sources = [c.jwks_url !== "", c.jwt_validation_pubkeys.length > 0].filter(Boolean).length;
  if (sources !== 1) {
    throw new BadRequest("exactly one of 'jwks_url' and 'jwt_validation_pubkeys' must be set");
  }
  if (c.jwks_ca_pem && !c.jwks_url) throw new BadRequest("'jwks_ca_pem' requires 'jwks_url'");
  if (c.jwks_ca_pem && !isCertificate(c.jwks_ca_pem)) {
    throw new BadRequest("jwks_ca_pem: not a PEM certificate");
  }
  const algs = allowedAlgorithms(c);
  for (const [i, pem] of c.jwt_validation_pubkeys.entries()) {
    if (!await pemUsable(pem, algs)) {
      throw new BadRequest(
        `jwt_validation_pubkeys[${i}]: not a PEM public key or certificate for ${algs.join(", ")}`,
      );
    }
  }
  return c;
}

export function allowedAlgorithms(c: JwtConfig): string[] {
  return c.jwt_supported_algs.length ? c.jwt_supported_algs : [...ALGORITHMS];
}

export function configView(c: JwtConfig): Record<string, unknown> {
  return { ...c, oidc_discovery_url: "", default_role: "" };
}

const KEY = "config";

export function readConfig(s: StorageView): Promise<JwtConfig | null> {
  return readJSON<JwtConfig>(s, KEY);
}

export function writeConfig(s: StorageView, c: JwtConfig): Promise<void> {
  return writeJSON(s, KEY, c);
}
