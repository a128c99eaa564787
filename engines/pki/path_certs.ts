/**
 * Reading issued certificates: `cert/:serial` (unauthenticated, as in Vault) with `/raw` (DER)
 * and `/raw/pem`, LIST `certs/` and `certs/revoked/`, and SecretHub's `certificates[/:id]`.
 */
import { listResponse, NotFound, type PathSpec, rfc3339 } from "../sdk.ts";
import type { PkiBackend } from "./backend.ts";
import { certsFromPem } from "./pem.ts";
import { derRaw, pemRaw } from "./response.ts";
import { normalizeSerial } from "./serial.ts";

async function certView(b: PkiBackend, serial: string): Promise<Record<string, unknown>> {
  const [cert, revoked, ca] = await Promise.all([
    b.store.cert(serial),
    b.store.revoked(serial),
    b.ca.get(),
  ]);
  if (!cert) throw new NotFound();
  return {
    certificate: cert.certificate,
    revocation_time: revoked?.revocation_time ?? 0,
    revocation_time_rfc3339: revoked ? rfc3339(revoked.revocation_time_ms) : "",
    issuer_id: revoked?.issuer_id ?? ca?.record.issuer_id ?? "",
    expiration: cert.expiration,
  };
}

export function certPaths(b: PkiBackend): PathSpec[] {
  return [
    {
      pattern: "cert/:serial",
      unauthenticated: true,
      synopsis: "Fetch an issued certificate and its revocation state",
      operations: {
        async read(req) {
          const view = await certView(b, normalizeSerial(req.params.serial!));
          delete view.expiration;
          return { data: view };
        },
      },
    },
    {
      pattern: "cert/:serial/raw",
      unauthenticated: true,
      operations: {
        async read(req) {
          const view = await certView(b, normalizeSerial(req.params.serial!));
          const [der] = certsFromPem(view.certificate as string);
          if (!der) throw new Error("the stored certificate holds no PEM block");
          return derRaw(der, "application/pkix-cert");
        },
      },
    },
    {
      pattern: "cert/:serial/raw/pem",
      unauthenticated: true,
      operations: {
        async read(req) {
          const view = await certView(b, normalizeSerial(req.params.serial!));
          return pemRaw(view.certificate as string, "application/pem-certificate-chain");
        },
      },
    },
    {
      pattern: "certs/",
      synopsis: "List the serials of issued certificates",
      operations: { list: async () => listResponse(await b.store.certs()) },
    },
    {
      pattern: "certs/revoked/",
      synopsis: "List the serials of revoked certificates",
      operations: { list: async () => listResponse(await b.store.revokedSerials()) },
    },
    {
      pattern: "certificates",
      synopsis: "List the serials of issued certificates (SecretHub route)",
      operations: { read: async () => ({ data: { keys: await b.store.certs() } }) },
    },
    {
      pattern: "certificates/",
      operations: { list: async () => listResponse(await b.store.certs()) },
    },
    {
      pattern: "certificates/:id",
      synopsis: "Fetch an issued certificate (SecretHub route)",
      operations: {
        async read(req) {
          const serial = normalizeSerial(req.params.id!);
          const view = await certView(b, serial);
          return {
            data: {
              ...view,
              serial_number: serial.replaceAll("-", ":"),
              revoked: view.revocation_time !== 0,
            },
          };
        },
      },
    },
  ];
}
