/**
 * `revoke` (by serial, or by certificate for no_store leaves), SecretHub's
 * `certificates/:id/revoke`, and `crl/rotate`. Every revocation re-signs and stores the CRL in the
 * same commit as the revocation entry, so the CRL never lags a revoke that returned.
 */
import { BadRequest, type EngineResponse, type PathSpec, rfc3339, v } from "../sdk.ts";
import type { PkiBackend } from "./backend.ts";
import { bytesEqual, certParts } from "./certificate.ts";
import { buildCrl, rebuildCrl, revokedEntries } from "./crl.ts";
import type { Bytes } from "./der.ts";
import { singlePem } from "./pem.ts";
import { colonSerial, formatSerial, normalizeSerial } from "./serial.ts";
import { PkiStore, type RevokedRecord } from "./store.ts";
import * as x509 from "./x509.ts";

export function revocationView(r: RevokedRecord): Record<string, unknown> {
  return {
    revocation_time: r.revocation_time,
    revocation_time_rfc3339: rfc3339(r.revocation_time_ms),
    state: "revoked",
  };
}

/** Revokes `serial` ("aa-bb"); `presented` is the certificate itself when the client sent it. */
export function revoke(b: PkiBackend, serial: string, presented?: Bytes): Promise<EngineResponse> {
  return b.lock.run(async () => {
    const ca = await b.ca.require();
    if (ca.serials.has(serial)) throw new BadRequest("adding CA to CRL is not allowed");
    const existing = await b.store.revoked(serial);
    if (existing) return { data: revocationView(existing) };

    const stored = await b.store.cert(serial);
    const certDer = stored
      ? singlePem(stored.certificate, ["CERTIFICATE"], "certificate")
      : presented;
    if (!certDer) throw new BadRequest(`certificate with serial ${colonSerial(serial)} not found`);
    // Only this CA's certificates go on its CRL: a presented (no_store) one must carry its
    // signature, and a stored one from a CA since deleted does not belong here.
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(certDer);
    } catch {
      throw new BadRequest("could not parse the certificate");
    }
    const issuedHere = bytesEqual(certParts(certDer).issuer, ca.issuer.name) &&
      await cert.verify({ publicKey: ca.cert.publicKey, signatureOnly: true }).catch(() => false);
    if (!issuedHere) {
      throw new BadRequest(
        `certificate with serial ${colonSerial(serial)} was not issued by this mount's CA`,
      );
    }

    const now = b.now();
    const rec: RevokedRecord = {
      revocation_time: Math.floor(now / 1000),
      revocation_time_ms: now,
      expiration: stored?.expiration ?? Math.floor(cert.notAfter.getTime() / 1000),
      issuer_id: ca.record.issuer_id,
    };
    const [prev, entries] = await Promise.all([
      b.store.crl(),
      revokedEntries(b.store, ca.record.issuer_id),
    ]);
    entries.push({ serial, revokedAt: now });
    const crl = await buildCrl(ca, entries, (prev?.number ?? 0) + 1, now);
    await b.store.commit([PkiStore.putRevoked(serial, rec), PkiStore.putCrl(crl)]);
    return { data: revocationView(rec) };
  });
}

const revokeInput = v.looseObject({
  serial_number: v.optional(v.pipe(v.string(), v.maxLength(128, "is too long"))),
  certificate: v.optional(v.pipe(v.string(), v.maxLength(65536, "is too long"))),
});

export function pathRevoke(b: PkiBackend): PathSpec {
  return {
    pattern: "revoke",
    input: { write: revokeInput },
    synopsis: "Revoke a certificate and rebuild the CRL",
    operations: {
      update(req) {
        const body = req.data as v.InferOutput<typeof revokeInput>;
        if (body.serial_number && body.certificate) {
          throw new BadRequest(
            "Must provide either the certificate or the serial to revoke; not both.",
          );
        }
        if (body.certificate) {
          const der = singlePem(body.certificate, ["CERTIFICATE"], "certificate");
          let serial: string;
          try {
            serial = formatSerial(certParts(der).serial, "-");
          } catch {
            throw new BadRequest("could not parse the certificate");
          }
          return revoke(b, serial, der);
        }
        if (!body.serial_number) {
          throw new BadRequest("The serial number must be provided");
        }
        return revoke(b, normalizeSerial(body.serial_number));
      },
    },
  };
}

export function pathCertificateRevoke(b: PkiBackend): PathSpec {
  return {
    pattern: "certificates/:id/revoke",
    synopsis: "Revoke a certificate by serial (SecretHub route)",
    operations: { update: (req) => revoke(b, normalizeSerial(req.params.id!)) },
  };
}

export function pathCrlRotate(b: PkiBackend): PathSpec {
  return {
    pattern: "crl/rotate",
    synopsis: "Re-sign the CRL now",
    operations: {
      async read() {
        await b.lock.run(async () => {
          const ca = await b.ca.require();
          await b.store.commit([PkiStore.putCrl(await rebuildCrl(b.store, ca, b.now()))]);
        });
        return { data: { success: true } };
      },
    },
  };
}
