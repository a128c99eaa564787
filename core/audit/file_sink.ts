import { Buffer } from "node:buffer";
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import type { AuditRecord } from "./entry.ts";

export interface FileSinkOptions {
  /** fsync after every record: durable against power loss, at the cost of one disk flush each. */
  fsync?: boolean;
  /** Mode when the file is created; the log reveals paths and timing, so owner-only by default. */
  mode?: number;
}

/** Appends one JSON record per line. Synchronous so that records land in the order appended. */
export class FileSink {
  #fd: number | null;
  #fsync: boolean;

  constructor(path: string, options: FileSinkOptions = {}) {
    this.#fd = openSync(path, "a", options.mode ?? 0o600);
    this.#fsync = options.fsync ?? false;
  }

  write(record: AuditRecord): void {
    if (this.#fd === null) throw new Error("audit file sink is closed");
    // One buffer per line and O_APPEND: a line is never interleaved with another writer's bytes.
    const buf = Buffer.from(JSON.stringify(record) + "\n", "utf8");
    let off = 0;
    while (off < buf.length) off += writeSync(this.#fd, buf, off, buf.length - off);
    if (this.#fsync) fsyncSync(this.#fd);
  }

  close(): void {
    if (this.#fd === null) return;
    const fd = this.#fd;
    this.#fd = null;
    closeSync(fd);
  }
}
