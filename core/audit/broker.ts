/**
 * Appends audit records to the chain and persists them with the storage's group commit. A
 * request's reply waits for its records to be durable; if they cannot be written the request
 * fails (Vault's promise). Optional file sinks receive each record after it is committed.
 */
import type { PhysicalStorage } from "../storage/storage.ts";
import { AuditChain } from "./chain.ts";
import type { AuditInput, AuditRecord } from "./entry.ts";
import { hmacString } from "./entry.ts";
import { FileSink } from "./file_sink.ts";

export interface SinkConfig {
  path: string;
  type: "file";
  description: string;
  options: Record<string, string>;
}

export class AuditBroker {
  readonly #physical: PhysicalStorage;
  readonly #chain: AuditChain;
  readonly #key: Uint8Array;
  #sinks = new Map<string, { config: SinkConfig; sink: FileSink }>();
  failures = 0;

  constructor(physical: PhysicalStorage, key: Uint8Array, head: { seq: number; hash: string }) {
    this.#physical = physical;
    this.#key = key;
    this.#chain = new AuditChain(key, head);
    physical.onAuditRollback = (h) => this.#chain.reset(h);
  }

  get key(): Uint8Array {
    return this.#key;
  }

  /** Appends synchronously (fixing the order) and resolves once the records are on disk. */
  record(inputs: AuditInput[]): Promise<void> {
    const recs = inputs.map((i) => this.#chain.append(i));
    return this.#physical.transaction([], recs).then(
      () => this.#toSinks(recs),
      (e) => {
        this.failures++;
        throw e;
      },
    );
  }

  #toSinks(recs: AuditRecord[]): void {
    for (const { sink } of this.#sinks.values()) {
      for (const r of recs) sink.write(r);
    }
  }

  hash(input: string): string {
    return hmacString(this.#key, input);
  }

  enableSink(config: SinkConfig): void {
    this.#sinks.get(config.path)?.sink.close();
    this.#sinks.set(config.path, { config, sink: new FileSink(config.options.file_path!) });
  }

  disableSink(path: string): void {
    this.#sinks.get(path)?.sink.close();
    this.#sinks.delete(path);
  }

  sinks(): SinkConfig[] {
    return [...this.#sinks.values()].map((s) => s.config);
  }

  close(): void {
    for (const { sink } of this.#sinks.values()) sink.close();
    this.#sinks.clear();
    this.#chain.wipe();
    this.#key.fill(0);
  }
}
