/**
 * Remembers which (certificate serial, timestamp) renewal proofs were used, through the barrier,
 * until they fall out of the accepted clock window, so a captured proof cannot be replayed (not
 * even across a restart).
 */
import type { StorageView, WriteOp } from "../../engines/sdk.ts";
import { KeyedLock } from "../auth/approle/lock.ts";
import { PROOF_WINDOW_SECONDS } from "./renew_proof.ts";

export class ReplayGuard {
  readonly #s: StorageView;
  readonly #locks = new KeyedLock();

  constructor(storage: StorageView) {
    this.#s = storage;
  }

  /** Records the proof; false when it was already used. `nowSeconds` prunes expired entries. */
  use(serial: string, timestamp: number, nowSeconds: number): Promise<boolean> {
    return this.#locks.run(serial, async () => {
      const key = `${serial}/${timestamp}`;
      if (await this.#s.get(key)) return false;
      const ops: WriteOp[] = [];
      for (const k of await this.#s.list(`${serial}/`)) {
        if (Number(k) < nowSeconds - 2 * PROOF_WINDOW_SECONDS) {
          ops.push({ op: "delete", key: `${serial}/${k}` });
        }
      }
      ops.push({ op: "put", key, value: new Uint8Array([1]) });
      await this.#s.batch(ops);
      return true;
    });
  }
}
