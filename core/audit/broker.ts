/**
 * Builds audit entries and persists them with the storage's group commit. A
 * request's reply waits for its records to be durable; if they cannot be written the request
 * fails (Vault's promise). Optional file sinks receive each record after it is committed.
 */
import type { PhysicalStorage } from "../storage/storage.ts";
import { AuditEntryBuilder } from "./chain.ts";
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
  readonly #builder: AuditEntryBuilder;
  readonly #key: Uint8Array;
  #sinks = new Map<string, { config: SinkConfig; sink: FileSink }>();
  failures = 0;

  constructor(physical: PhysicalStorage, key: Uint8Array) {
    this.#physical = physical;
    this.#key = key;
    this.#builder = new AuditEntryBuilder(key);
    // Storage links entries into the chain as it commits them (one ordered writer).
    physical.setAuditKey(key);
  }

  get key(): Uint8Array {
    return this.#key;
  }

  /**
   * Builds the entries here (HMACs, canonical JSON); storage links them into the hash chain in
   * commit order and resolves once they are on disk. Sinks get the linked records after that.
   */
  record(inputs: AuditInput[]): Promise<void> {
    const built = inputs.map((i) => this.#builder.build(i));
    const entries = built.map((b) => b.entryJson);
    const failed = (e: unknown) => {
      this.failures++;
      throw e;
    };
    // Without sinks nobody needs the links back: the usual case, and the cheaper promise chain.
    if (this.#sinks.size === 0) {
      return (this.#physical.transaction([], entries, false) as Promise<void>).catch(failed);
    }
    return this.#physical.transaction([], entries, true).then(
      (links) => {
        if (links) this.#toSinks(links.map((l, i) => ({ ...l, ...built[i]! })));
      },
      failed,
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

  /** The enabled device at `path` ("file/"), if any. */
  sink(path: string): SinkConfig | undefined {
    return this.#sinks.get(path)?.config;
  }

  /**
   * The enabled device whose path is `path`, lies under it or above it ("file/" and
   * "file/x/"), as Vault's enableAudit refuses with "path already in use".
   */
  conflicting(path: string): string | undefined {
    for (const p of this.#sinks.keys()) {
      if (p.startsWith(path) || path.startsWith(p)) return p;
    }
    return undefined;
  }

  /** Opens the device's file sink (at unseal, from the saved table, or a new device). */
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
    this.#physical.setAuditKey(null);
    this.#builder.wipe();
    this.#key.fill(0);
  }
}
