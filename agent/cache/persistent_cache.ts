/**
 * The encrypted on-disk copy of the secret cache, so an agent that reboots while core is
 * unreachable can keep serving (within max_stale).
 *
 * - Key: HKDF-SHA256 over the agent's private key (PKCS#8 DER) or a configured key file, info
 *   "secrethub-agent-cache-v1". Losing the identity key makes the cache unreadable, which is the
 *   point: a copied disk image without the key yields nothing.
 * - One file per entry, named by SHA-256 of the secret path, so paths are not visible on disk.
 * - AES-256-GCM with a random 96-bit nonce; the file name is the AAD, so a ciphertext renamed
 *   onto another entry's name fails to decrypt instead of serving the wrong secret.
 * - Files are written with writeFileAtomic, mode 0600, in a 0700 directory.
 */
import { constants, promises as fsp } from "node:fs";
import { join } from "../../lib/paths.ts";
import { sha256Hex } from "../../lib/sha256.ts";
import { writeFileAtomic } from "../render/atomic_file.ts";
import type { CacheEntry } from "./secret_cache.ts";

const INFO = "secrethub-agent-cache-v1";
const FORMAT_VERSION = 1;
const NONCE_BYTES = 12;
const NAME_RE = /^[0-9a-f]{64}$/;
const MIN_KEY_FILE_BYTES = 32;

export interface SkippedFile {
  file: string;
  /** Fixed reasons only ("decryption failed", …): never content. */
  reason: string;
}

export interface LoadResult {
  entries: CacheEntry[];
  skipped: SkippedFile[];
}

/** The PKCS#8 DER bytes of a PEM private key: the input keying material for the cache key. */
export function keyMaterialFromPrivateKeyPem(pem: string): Uint8Array<ArrayBuffer> {
  const m = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(pem);
  if (!m) throw new TypeError("Cannot derive the cache key: expected a PKCS#8 PEM private key");
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
}

/** Reads a configured cache key file; it must hold at least 32 bytes of key material. */
export async function readCacheKeyFile(file: string): Promise<Uint8Array<ArrayBuffer>> {
  const bytes = await Deno.readFile(file);
  if (bytes.length < MIN_KEY_FILE_BYTES) {
    throw new RangeError(
      `Cannot use cache key file "${file}": it holds ${bytes.length} bytes, at least ${MIN_KEY_FILE_BYTES} are needed`,
    );
  }
  return new Uint8Array(bytes);
}

async function deriveKey(ikm: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", ikm, "HKDF", false, ["deriveKey"]);
  return await crypto.subtle.deriveKey(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new Uint8Array(0),
      info: new TextEncoder().encode(INFO),
    },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

export class PersistentCache {
  readonly dir: string;
  readonly #key: CryptoKey;
  /** Writes to one path are applied in call order, so an older value never lands last. */
  readonly #pending = new Map<string, Promise<unknown>>();

  private constructor(dir: string, key: CryptoKey) {
    this.dir = dir;
    this.#key = key;
  }

  /** Opens (creating 0700) `dir` — normally `state_dir/cache` — with a key derived from `keyMaterial`. */
  static async open(dir: string, keyMaterial: Uint8Array<ArrayBuffer>): Promise<PersistentCache> {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    // Through the descriptor, never following a symlink: a chmod by name would follow one put
    // at `dir` to any directory on the system.
    let d: fsp.FileHandle;
    try {
      d = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch (e) {
      // O_NOFOLLOW with O_DIRECTORY reports a symlink as ELOOP or ENOTDIR, depending on the OS.
      if (!(await Deno.lstat(dir).catch(() => null))?.isSymlink) throw e;
      throw new Deno.errors.PermissionDenied(
        `Cannot use "${dir}" for the cache: it is a symlink (not followed)`,
      );
    }
    try {
      await d.chmod(0o700);
    } finally {
      await d.close();
    }
    return new PersistentCache(dir, await deriveKey(keyMaterial));
  }

  static fileNameFor(path: string): Promise<string> {
    return Promise.resolve(sha256Hex(path));
  }

  save(entry: CacheEntry): Promise<void> {
    return this.#serial(entry.path, async () => {
      const name = await PersistentCache.fileNameFor(entry.path);
      const plain = new TextEncoder().encode(JSON.stringify(entry));
      const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
      const ct = new Uint8Array(
        await crypto.subtle.encrypt(
          { name: "AES-GCM", iv: nonce, additionalData: new TextEncoder().encode(name) },
          this.#key,
          plain,
        ),
      );
      const out = new Uint8Array(1 + NONCE_BYTES + ct.length);
      out[0] = FORMAT_VERSION;
      out.set(nonce, 1);
      out.set(ct, 1 + NONCE_BYTES);
      await writeFileAtomic(join(this.dir, name), out, { mode: 0o600 });
    });
  }

  remove(path: string): Promise<void> {
    return this.#serial(path, async () => {
      try {
        await Deno.remove(join(this.dir, await PersistentCache.fileNameFor(path)));
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    });
  }

  /** Every entry that decrypts under our key; the rest are reported, not deleted. */
  async loadAll(): Promise<LoadResult> {
    const entries: CacheEntry[] = [];
    const skipped: SkippedFile[] = [];
    for await (const f of Deno.readDir(this.dir)) {
      if (!f.isFile) continue;
      if (f.name.startsWith(".") && f.name.includes(".secrethub-tmp-")) {
        // Left over from a crash mid-write; the previous complete file (if any) is intact.
        await Deno.remove(join(this.dir, f.name)).catch(() => {});
        continue;
      }
      if (!NAME_RE.test(f.name)) {
        skipped.push({ file: f.name, reason: "not a cache file" });
        continue;
      }
      const r = await this.#decryptFile(f.name);
      if ("reason" in r) skipped.push({ file: f.name, reason: r.reason });
      else entries.push(r.entry);
    }
    return { entries, skipped };
  }

  async #decryptFile(name: string): Promise<{ entry: CacheEntry } | { reason: string }> {
    const bytes = await Deno.readFile(join(this.dir, name));
    if (bytes.length < 1 + NONCE_BYTES + 16 || bytes[0] !== FORMAT_VERSION) {
      return { reason: "unknown format" };
    }
    let plain: ArrayBuffer;
    try {
      plain = await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: bytes.subarray(1, 1 + NONCE_BYTES),
          additionalData: new TextEncoder().encode(name),
        },
        this.#key,
        bytes.subarray(1 + NONCE_BYTES),
      );
    } catch {
      return { reason: "decryption failed" };
    }
    let entry: CacheEntry;
    try {
      entry = JSON.parse(new TextDecoder().decode(plain)) as CacheEntry;
    } catch {
      return { reason: "unknown format" };
    }
    if (!isEntry(entry)) return { reason: "unknown format" };
    if (await PersistentCache.fileNameFor(entry.path) !== name) return { reason: "path mismatch" };
    return { entry };
  }

  #serial(path: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.#pending.get(path) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.#pending.set(path, next);
    const clear = () => {
      if (this.#pending.get(path) === next) this.#pending.delete(path);
    };
    next.then(clear, clear);
    return next;
  }
}

function isEntry(e: unknown): e is CacheEntry {
  if (typeof e !== "object" || e === null) return false;
  const o = e as Record<string, unknown>;
  return typeof o.path === "string" && typeof o.data === "object" && o.data !== null &&
    typeof o.fetchedAt === "number" && typeof o.confirmedAt === "number" &&
    (o.version === undefined || typeof o.version === "number") &&
    (o.ttlMs === undefined || typeof o.ttlMs === "number");
}
