import { Buffer } from "node:buffer";
import { closeSync, fchmodSync, fstatSync, fsyncSync, openSync, writeSync } from "node:fs";
import type { AuditRecord } from "./entry.ts";

export interface FileSinkOptions {
  /** fsync after every record: durable against power loss, at the cost of one disk flush each. */
  fsync?: boolean;
  /**
   * The file's mode, set at every open even when the file exists (Vault's file device chmods it
   * too, so a log created world-readable by someone else is closed down); 0 leaves it as it is.
   * Owner-only by default: the log reveals paths and timing.
   */
  mode?: number;
  /** For tests: stands in for writeSync (a disk that fills up part-way through a line). */
  writeSync?: typeof writeSync;
}

/**
 * Vault's file device takes these two instead of a path: records go to the process's stdout
 * (one JSON line each, as to a file), or nowhere.
 */
export const STDOUT = "stdout";
export const DISCARD = "discard";
const STDOUT_FD = 1;
/** A "discard" sink's descriptor: never written to, it only marks the sink as open. */
const NO_FD = -1;

/**
 * One record as a line: the entry once. The record also carries the entry's canonical JSON,
 * which is exactly the hashed text: reused as the entry rather than serialised again, and not
 * written a second time as a string (which doubled the file). The hashes are hex, the JSON
 * needs no escaping.
 */
function recordLine(r: AuditRecord): string {
  const entry = r.entryJson ?? JSON.stringify(r.entry);
  return `{"seq":${r.seq},"prevHash":"${r.prevHash}","hash":"${r.hash}","mac":"${r.mac}",` +
    `"entry":${entry}}\n`;
}

/** Vault's `mode` option: an octal string, "0600" when not given. */
export function parseFileMode(mode: string | undefined): number {
  return mode === undefined ? 0o600 : parseInt(mode, 8);
}

/**
 * Appends one JSON record per line (to a file, or to stdout; "discard" drops them). Synchronous
 * so that records land in the order appended.
 */
export class FileSink {
  readonly path: string;
  #fd: number | null;
  #fsync: boolean;
  #mode: number;
  /** False for stdout (the process's, not ours to chmod, reopen or close) and "discard". */
  readonly #ownFile: boolean;
  #write: typeof writeSync;
  /**
   * A write failed part-way (disk full) and left a partial line: the next record starts on a new
   * line so it is not glued to the fragment, and every complete record still parses on its own.
   */
  #torn = false;

  constructor(path: string, options: FileSinkOptions = {}) {
    this.path = path;
    this.#mode = options.mode ?? 0o600;
    this.#fsync = options.fsync ?? false;
    this.#write = options.writeSync ?? writeSync;
    this.#ownFile = path !== STDOUT && path !== DISCARD;
    this.#fd = this.#ownFile ? this.#open() : path === STDOUT ? STDOUT_FD : NO_FD;
  }

  #open(): number {
    const fd = openSync(this.path, "a", this.#mode || 0o600);
    try {
      // Only a regular file: chmodding a device such as /dev/stdout would change it for everyone.
      if (this.#mode !== 0 && fstatSync(fd).isFile()) fchmodSync(fd, this.#mode);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return fd;
  }

  write(record: AuditRecord): void {
    if (this.#fd === null) throw new Error("audit file sink is closed");
    if (this.path === DISCARD) return;
    // One buffer per line and O_APPEND: a line is never interleaved with another writer's bytes.
    const line = recordLine(record);
    const buf = Buffer.from(this.#torn ? "\n" + line : line, "utf8");
    let off = 0;
    try {
      while (off < buf.length) off += this.#write(this.#fd, buf, off, buf.length - off);
    } catch (e) {
      // Nothing written leaves the file as it was (and a pending break still pending).
      if (off > 0) this.#torn = true;
      throw e;
    }
    this.#torn = false;
    if (this.#fsync) fsyncSync(this.#fd);
  }

  /**
   * Closes and reopens the file at its path (SIGHUP, after logrotate moved it away). If the
   * path cannot be opened the old file stays in use, so no record is lost to a bad rotation.
   */
  reopen(): void {
    if (this.#fd === null || !this.#ownFile) return;
    const fd = this.#open();
    closeSync(this.#fd);
    this.#fd = fd;
    // A new (rotated) file has no fragment to break away from; the same file still may.
    if (fstatSync(fd).size === 0) this.#torn = false;
  }

  close(): void {
    if (this.#fd === null) return;
    const fd = this.#fd;
    this.#fd = null;
    if (this.#ownFile) closeSync(fd);
  }
}
