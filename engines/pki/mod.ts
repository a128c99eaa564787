/**
 * PKI secrets engine: one CA per mount (a generated root, or an intermediate signed by another
 * mount or an external CA), roles, leaf issuance from server-side keys or verified CSRs, revocation
 * with a signed CRL, and tidy, at Vault's paths and shapes plus SecretHub's short routes. Storage
 * layout: see store.ts; the signing path: leaf.ts.
 */
import type { EngineFactory } from "../sdk.ts";
import { newBackend } from "./backend.ts";
import { certPaths } from "./path_certs.ts";
import { fetchPaths } from "./path_fetch.ts";
import {
  pathIntermediateGenerate,
  pathIntermediateGenerateAlias,
  pathSetSigned,
  pathSignIntermediate,
} from "./path_intermediate.ts";
import { issuePaths } from "./path_issue.ts";
import { pathCertificateRevoke, pathCrlRotate, pathRevoke } from "./path_revoke.ts";
import { pathRoles } from "./path_roles.ts";
import { pathRootDelete, pathRootGenerate, pathRootGenerateAlias } from "./path_root.ts";
import { pathTidy } from "./path_tidy.ts";
import { PkiStore } from "./store.ts";

export const pkiFactory: EngineFactory = (ctx) => {
  const b = newBackend(new PkiStore(ctx.storage), ctx.now, ctx.mountTtls?.bind(ctx));
  return {
    type: "pki",
    version: "1",
    // Patterns are exact, so order only matters where a literal and a parameter overlap:
    // the fetch paths (cert/ca, cert/crl, crl/rotate…) precede cert/:serial, and
    // certificates/:id/revoke precedes certificates/:id.
    paths: [
      ...fetchPaths(b),
      pathCrlRotate(b),
      pathRootGenerate(b),
      pathRootGenerateAlias(b),
      pathRootDelete(b),
      pathIntermediateGenerate(b),
      pathIntermediateGenerateAlias(b),
      pathSignIntermediate(b),
      pathSetSigned(b),
      ...pathRoles(b),
      ...issuePaths(b),
      pathRevoke(b),
      pathCertificateRevoke(b),
      ...certPaths(b),
      ...pathTidy(b),
    ],
  };
};
