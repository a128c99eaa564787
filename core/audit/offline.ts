/**
 * `secrethub audit verify -db FILE`: recomputes the chain straight from the database file,
 * without a running server. The audit key comes from a key file (hex or base64, as exported by
 * `GET sys/audit/key`) or from unseal keys, which rebuild the root key → keyring → audit key.
 */
import type { OfflineVerifyOptions } from "../../cli/command.ts";
import { Barrier } from "../barrier/barrier.ts";
import { LibsqlStorage } from "../storage/libsql_storage.ts";
import { decodeShare, ShamirSeal } from "../seal/seal.ts";
import { combineShares } from "../seal/shamir.ts";
import { fromBase64 } from "../../lib/crypto.ts";
import { verifyResultView, verifyStoredChain } from "./verify.ts";

const AUDIT_KEY_PATH = "core/audit-key";

function decodeKey(text: string): Uint8Array {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) {
    return new Uint8Array(t.match(/../g)!.map((h) => parseInt(h, 16)));
  }
  const b = fromBase64(t);
  if (b.length === 32) return b;
  throw new Error("the audit key file must hold 32 bytes as hex or base64");
}

export async function offlineAuditVerify(o: OfflineVerifyOptions): Promise<number> {
  try {
    await Deno.stat(o.db);
  } catch {
    o.stderr(`Error: database file not found: ${o.db}`);
    return 1;
  }
  const storage = await LibsqlStorage.open(o.db);
  try {
    let key: Uint8Array;
    if (o.keyFile) {
      key = decodeKey(await Deno.readTextFile(o.keyFile));
    } else if (o.unsealKeys.length) {
      const seal = new ShamirSeal(storage);
      await seal.load();
      if (!seal.config) throw new Error("the database is not initialised");
      const root = await combineShares(o.unsealKeys.map(decodeShare));
      const barrier = new Barrier(storage);
      try {
        barrier.unsealWith(await seal.openKeyring(root));
      } catch {
        throw new Error("the unseal keys do not open this database's keyring");
      } finally {
        root.fill(0);
      }
      const k = await barrier.get(AUDIT_KEY_PATH);
      barrier.seal();
      if (!k) throw new Error("no audit key in this database");
      key = k;
    } else {
      o.stderr("Error: give -key-file FILE or -unseal-key KEY (repeat up to the threshold)");
      return 1;
    }
    // The server is stopped: any row past the signed head was not written by it.
    const r = verifyStoredChain(storage, key, { offline: true });
    const out = verifyResultView(r);
    if (o.format === "json") o.stdout(JSON.stringify(out, null, 2));
    else {
      o.stdout(
        r.ok
          ? `Audit chain intact: ${r.checked} entries verified`
          : `Audit chain BROKEN at seq ${r.firstBadSeq}: ${
            r.reason ?? "mismatch"
          } (${r.checked} entries checked)`,
      );
    }
    return r.ok ? 0 : 1;
  } catch (e) {
    o.stderr(`Error: ${(e as Error).message}`);
    return 1;
  } finally {
    await storage.close();
  }
}
