/**
 * Builds audit entries and persists them with the storage's group commit. A request's reply
 * waits for its records to be durable in the chain; if they cannot be written the request fails
 * (Vault's promise: a request fails only if no device logged it, and the chain always exists).
 * Optional file sinks receive each record after it is committed; a sink that fails then (disk
 * full) is logged and counted but cannot undo a committed request, nor keep the record from the
 * other sinks.
 */
import type { PhysicalStorage } from "../storage/storage.ts";
import { AuditEntryBuilder } from "./chain.ts";
import type { AuditInput, AuditRecord } from "./entry.ts";
import { hmacString } from "./entry.ts";
import { FileSink, parseFileMode } from "./file_sink.ts";
import { log } from "../log.ts";
import { HttpError } from "../../lib/errors.ts";

/** How long seal waits for records in flight to reach the sinks before closing them. */
const DRAIN_MS = 5_000;

export interface SinkConfig {
  path: string;
  type: "file";
  description: string;
  options: Record<string, string>;
}

/**
 * Unseal cannot open a saved device's file (its directory is gone). Vault fails the unseal
 * ("failed to setup audit table"); so does this, naming the device and the OS reason, which is
 * the operator's to fix (500, as Vault answers).
 */
export class AuditDeviceUnavailable extends HttpError {
  constructor(path: string, filePath: string, why: string) {
    super(
      500,
      `failed to setup audit table: audit device "${path}" cannot open its file ` +
        `${JSON.stringify(filePath)}: ${why}`,
    );
  }
}

export class AuditBroker {
  readonly #physical: PhysicalStorage;
  readonly #builder: AuditEntryBuilder;
  readonly #key: Uint8Array;
  #sinks = new Map<string, { config: SinkConfig; sink: FileSink; failing: boolean }>();
  /** Records that could not be written: to the chain (the request failed) or to a file sink. */
  failures = 0;
  /** record() calls whose commit (and sink writes) have not finished; drain() waits for them. */
  #inflight = 0;
  #idle: (() => void) | null = null;
  #drained: Promise<void> | null = null;

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
    this.#inflight++;
    const failed = this.#failedFn;
    // Without sinks nobody needs the links back: the usual case, and the cheaper promise chain.
    if (this.#sinks.size === 0) {
      return (this.#physical.transaction([], entries, false) as Promise<void>).then(
        this.#settledFn,
        failed,
      );
    }
    return this.#physical.transaction([], entries, true).then(
      (links) => {
        // Settled first: drain's waiter runs only after this callback, sink writes included.
        this.#settled();
        if (links) this.#toSinks(links.map((l, i) => ({ ...l, ...built[i]! })));
      },
      failed,
    );
  }

  #settled(): void {
    if (--this.#inflight === 0 && this.#idle) this.#idle();
  }

  // One function each for every record rather than closures per call (the hot path).
  readonly #settledFn = (): void => this.#settled();
  readonly #failedFn = (e: unknown): never => {
    this.#settled();
    this.failures++;
    throw e;
  };

  /** Never throws: the records are committed in the chain, so the request has succeeded. */
  #toSinks(recs: AuditRecord[]): void {
    for (const [path, s] of this.#sinks) {
      let failed = 0;
      let why = "";
      for (const r of recs) {
        try {
          s.sink.write(r);
        } catch (e) {
          failed++;
          why = (e as Error).message;
        }
      }
      if (failed > 0) {
        this.failures += failed;
        // Once per outage, not once per record: a full disk must not flood the log as well.
        if (!s.failing) {
          log.error("audit device cannot write; records go on into the audit chain", {
            device: path,
            file_path: s.config.options.file_path,
            error: why,
          });
        }
        s.failing = true;
      } else if (s.failing) {
        s.failing = false;
        log.info("audit device writes again", { device: path });
      }
    }
  }

  /**
   * Waits (up to `ms`) until every record already handed to the chain has been committed and
   * written to the sinks, so that seal closing the sinks does not drop a reply's record.
   */
  drain(ms = DRAIN_MS): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return this.#drained ??= new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#idle = null;
        this.#drained = null;
        resolve();
      };
      const timer = setTimeout(() => {
        log.warn("audit records still in flight at seal", { records: this.#inflight });
        done();
      }, ms);
      this.#idle = done;
    });
  }

  /** SIGHUP: every file sink closes and reopens its file (after logrotate moved it). */
  reopen(): void {
    for (const [path, s] of this.#sinks) {
      try {
        s.sink.reopen();
      } catch (e) {
        log.error("audit device cannot reopen its file; it keeps the old one", {
          device: path,
          file_path: s.config.options.file_path,
          error: (e as Error).message,
        });
      }
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
    const sink = new FileSink(config.options.file_path!, {
      mode: parseFileMode(config.options.mode),
    });
    this.#sinks.get(config.path)?.sink.close();
    this.#sinks.set(config.path, { config, sink, failing: false });
  }

  disableSink(path: string): void {
    this.#sinks.get(path)?.sink.close();
    this.#sinks.delete(path);
  }

  sinks(): SinkConfig[] {
    return [...this.#sinks.values()].map((s) => s.config);
  }

  /**
   * Seal: the key leaves the writer and memory at once (no entry is linked after this), but the
   * sinks stay open until the records already committed have reached them; otherwise a read
   * answered during seal would be missing from the file devices.
   */
  async close(): Promise<void> {
    this.#physical.setAuditKey(null);
    this.#builder.wipe();
    this.#key.fill(0);
    await this.drain();
    for (const { sink } of this.#sinks.values()) sink.close();
    this.#sinks.clear();
  }
}
