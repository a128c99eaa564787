/**
 * The mount's CRL: every revoked serial with its date, signed by the CA, valid for 72 hours.
 * Encoded here rather than with X509CrlGenerator, which writes an empty crlEntryExtensions
 * SEQUENCE on every entry (not DER; strict parsers refuse it) and labels the PEM "CRL" where
 * OpenSSL expects "X509 CRL". Clients still parse it with @peculiar/x509's X509Crl.
 */
import type { LoadedCa } from "./ca.ts";
import * as der from "./der.ts";
import { authorityKeyId, extension } from "./extensions.ts";
import { toPem } from "./pem.ts";
import type { CrlRecord, PkiStore } from "./store.ts";

export const CRL_VALIDITY_MS = 72 * 3600 * 1000;

export interface CrlEntry {
  /** "aa-bb-…" */
  serial: string;
  revokedAt: number;
}

const V2 = der.smallInteger(1);

export async function buildCrl(
  ca: LoadedCa,
  entries: CrlEntry[],
  number: number,
  now: number,
): Promise<CrlRecord> {
  const { scheme, key, name, keyId } = ca.issuer;
  const revoked = entries.map((e) =>
    der.sequence(
      der.unsignedInteger(Uint8Array.fromHex(e.serial.replaceAll("-", ""))),
      der.time(new Date(e.revokedAt)),
    )
  );
  const tbs = der.sequence(
    V2,
    scheme.algorithmId,
    name,
    der.time(new Date(now)),
    der.time(new Date(now + CRL_VALIDITY_MS)),
    ...(revoked.length ? [der.sequence(...revoked)] : []),
    der.explicit(
      0,
      der.sequence(
        authorityKeyId(keyId),
        extension("2.5.29.20", false, der.smallInteger(number)),
      ),
    ),
  );
  const sig = await crypto.subtle.sign(scheme.params, key, tbs);
  const crl = der.sequence(tbs, scheme.algorithmId, der.bitString(scheme.encode(sig)));
  return {
    pem: toPem("X509 CRL", crl),
    number,
    this_update: now,
    next_update: now + CRL_VALIDITY_MS,
  };
}

/** The revocation entries of certificates issued by the CA `issuerId`, as CRL entries. */
export async function revokedEntries(store: PkiStore, issuerId: string): Promise<CrlEntry[]> {
  const serials = await store.revokedSerials();
  const recs = await Promise.all(serials.map((s) => store.revoked(s)));
  const out: CrlEntry[] = [];
  serials.forEach((serial, i) => {
    const r = recs[i];
    if (r && r.issuer_id === issuerId) out.push({ serial, revokedAt: r.revocation_time_ms });
  });
  return out;
}

/** A fresh CRL for the current CA, numbered after the stored one. The caller holds the lock. */
export async function rebuildCrl(store: PkiStore, ca: LoadedCa, now: number): Promise<CrlRecord> {
  const [prev, entries] = await Promise.all([
    store.crl(),
    revokedEntries(store, ca.record.issuer_id),
  ]);
  return buildCrl(ca, entries, (prev?.number ?? 0) + 1, now);
}
