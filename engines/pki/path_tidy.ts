/**
 * `tidy`: drops certificates (and, with tidy_revoked_certs, their revocation entries) that expired
 * more than safety_buffer ago. Vault runs it in the background and answers 202; here it finishes
 * before answering (the mount lock bounds it), still with 202 and a warning, and `tidy-status`
 * reports the last run.
 */
import { fields, type PathSpec, rfc3339, v, type WriteOp } from "../sdk.ts";
import type { PkiBackend } from "./backend.ts";
import { rebuildCrl } from "./crl.ts";
import { PkiStore } from "./store.ts";

const tidyInput = v.looseObject({
  tidy_cert_store: v.optional(fields.bool, false),
  tidy_revoked_certs: v.optional(fields.bool, false),
  safety_buffer: v.optional(fields.duration, 72 * 3600),
});

/** Deletes in slices so one tidy of a large store is not one giant transaction. */
const BATCH = 500;

async function tidy(
  b: PkiBackend,
  opts: v.InferOutput<typeof tidyInput>,
): Promise<{ certs: number; revoked: number }> {
  return await b.lock.run(async () => {
    // Vault's test: time since notAfter > safety_buffer (milliseconds, so no rounding slack).
    const cutoff = b.now() - opts.safety_buffer * 1000;
    const ca = await b.ca.get();
    const ops: WriteOp[] = [];
    let certs = 0;
    let revoked = 0;
    if (opts.tidy_cert_store) {
      for (const serial of await b.store.certs()) {
        if (ca?.serials.has(serial)) continue;
        const rec = await b.store.cert(serial);
        if (rec && rec.expiration * 1000 < cutoff) {
          ops.push(PkiStore.deleteCert(serial));
          certs++;
        }
      }
    }
    if (opts.tidy_revoked_certs) {
      for (const serial of await b.store.revokedSerials()) {
        const rec = await b.store.revoked(serial);
        if (rec && rec.expiration * 1000 < cutoff) {
          ops.push(PkiStore.deleteRevoked(serial));
          if (!opts.tidy_cert_store) ops.push(PkiStore.deleteCert(serial));
          revoked++;
        }
      }
    }
    for (let i = 0; i < ops.length; i += BATCH) await b.store.commit(ops.slice(i, i + BATCH));
    // An expired serial no longer needs listing; re-sign so the CRL shrinks with the store.
    if (revoked && ca) {
      await b.store.commit([PkiStore.putCrl(await rebuildCrl(b.store, ca, b.now()))]);
    }
    return { certs, revoked };
  });
}

export function pathTidy(b: PkiBackend): PathSpec[] {
  return [
    {
      pattern: "tidy",
      input: { write: tidyInput },
      synopsis: "Remove expired certificates and revocation entries",
      operations: {
        async update(req) {
          const opts = req.data as v.InferOutput<typeof tidyInput>;
          if (!opts.tidy_cert_store && !opts.tidy_revoked_certs) {
            return {
              status: 202,
              warnings: [
                "No targets to tidy; specify tidy_cert_store=true or tidy_revoked_certs=true",
              ],
            };
          }
          const started = b.now();
          const n = await tidy(b, opts);
          b.tidyStatus = {
            state: "Finished",
            time_started: rfc3339(started),
            time_finished: rfc3339(b.now()),
            safety_buffer: opts.safety_buffer,
            tidy_cert_store: opts.tidy_cert_store,
            tidy_revoked_certs: opts.tidy_revoked_certs,
            cert_store_deleted_count: n.certs,
            revoked_cert_deleted_count: n.revoked,
          };
          return {
            status: 202,
            warnings: [
              `Tidy operation finished: removed ${n.certs} expired certificates and ` +
              `${n.revoked} revocation entries`,
            ],
          };
        },
      },
    },
    {
      pattern: "tidy-status",
      synopsis: "Report on the last tidy run",
      operations: {
        read: () =>
          Promise.resolve({
            data: { ...(b.tidyStatus ?? { state: "Inactive" }) } as Record<string, unknown>,
          }),
      },
    },
  ];
}
