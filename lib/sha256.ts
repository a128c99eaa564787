/**
 * SHA-256 and HMAC-SHA256 (FIPS 180-4, RFC 2104) for the request path, in plain JavaScript.
 *
 * Why not node:crypto: on Deno 2.9 its hash ops stall the event loop. Four `hash()` calls per
 * request took a plain Deno.serve app from p99 1.8 ms to 27–38 ms, with event-loop lag spikes of
 * 20–40 ms under wrk (bench/hash_stall.ts reproduces it); in core that was the whole of the KV
 * read p99. WebCrypto's digest is async: a thread hop per hash. @noble/hashes fixed the stalls
 * but cost more CPU per read than this file: strings are encoded into one reused buffer and
 * hashed a word at a time, and an HMAC starts from the two key-pad states computed once.
 * Tested byte for byte against node:crypto (tests/unit/sha256_test.ts).
 *
 * The state is module-level and every entry point runs to completion synchronously, so calls
 * cannot interleave (each worker thread has its own copy of the module).
 */

const K = new Int32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);
const IV = new Int32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);

const H = new Int32Array(8);
const W = new Int32Array(64);
/** The block being filled, as big-endian words. */
const BLK = new Int32Array(16);
let pos = 0;
let blocks = 0;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function compress(): void {
  for (let i = 0; i < 16; i++) W[i] = BLK[i]!;
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = H[0]!, b = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!, f = H[5]!, g = H[6]!, h = H[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  H[0] = (H[0]! + a) | 0;
  H[1] = (H[1]! + b) | 0;
  H[2] = (H[2]! + c) | 0;
  H[3] = (H[3]! + d) | 0;
  H[4] = (H[4]! + e) | 0;
  H[5] = (H[5]! + f) | 0;
  H[6] = (H[6]! + g) | 0;
  H[7] = (H[7]! + h) | 0;
}

function put(byte: number): void {
  const shift = 24 - ((pos & 3) << 3);
  // The first byte of a word overwrites it, so a block never carries the previous one's bytes.
  if (shift === 24) BLK[pos >> 2] = byte << 24;
  else BLK[pos >> 2] |= byte << shift;
  if (++pos === 64) {
    compress();
    pos = 0;
    blocks++;
  }
}

let scratch = new Uint8Array(4096);
const encoder = new TextEncoder();

function feedString(s: string): void {
  // encodeInto is native and allocates nothing; UTF-8 needs at most 3 bytes per UTF-16 unit.
  if (s.length * 3 > scratch.length) scratch = new Uint8Array(s.length * 3);
  feedBytes(scratch, encoder.encodeInto(s, scratch).written);
}

function feedBytes(d: Uint8Array, n: number): void {
  let i = 0;
  while (i < n && (pos & 3) !== 0) put(d[i++]!);
  // Whole big-endian words while aligned: a quarter of the per-byte work.
  while (i + 4 <= n) {
    BLK[pos >> 2] = (d[i]! << 24) | (d[i + 1]! << 16) | (d[i + 2]! << 8) | d[i + 3]!;
    i += 4;
    pos += 4;
    if (pos === 64) {
      compress();
      pos = 0;
      blocks++;
    }
  }
  while (i < n) put(d[i++]!);
}

function feed(data: string | Uint8Array): void {
  if (typeof data === "string") feedString(data);
  else feedBytes(data, data.length);
}

function start(from: Int32Array, blocksDone: number): void {
  H.set(from);
  pos = 0;
  blocks = blocksDone;
}

/** Pads and runs the last block(s); the digest is then in H. */
function finish(): void {
  const bytes = blocks * 64 + pos;
  put(0x80);
  while (pos !== 56) put(0);
  BLK[14] = Math.floor(bytes / 0x20000000);
  BLK[15] = bytes << 3;
  compress();
}

function digestHex(): string {
  let out = "";
  for (let i = 0; i < 8; i++) {
    const w = H[i]!;
    out += HEX[(w >>> 24) & 255]! + HEX[(w >>> 16) & 255]! + HEX[(w >>> 8) & 255]! + HEX[w & 255]!;
  }
  return out;
}

function digestBytes(): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const w = H[i]!;
    out[i * 4] = w >>> 24;
    out[i * 4 + 1] = w >>> 16;
    out[i * 4 + 2] = w >>> 8;
    out[i * 4 + 3] = w;
  }
  return out;
}

/** Hex SHA-256 of the concatenation of `parts` (strings as UTF-8). */
export function sha256Hex(...parts: (string | Uint8Array)[]): string {
  start(IV, 0);
  for (const p of parts) feed(p);
  finish();
  return digestHex();
}

export function sha256Bytes(data: string | Uint8Array): Uint8Array {
  start(IV, 0);
  feed(data);
  finish();
  return digestBytes();
}

/**
 * HMAC-SHA256 with the key schedule done once: the states after the ipad and opad blocks are
 * kept, so a tag costs the message's blocks and one outer block.
 */
export class HmacSha256 {
  readonly #inner = new Int32Array(8);
  readonly #outer = new Int32Array(8);
  readonly #digest = new Int32Array(8);
  #wiped = false;

  constructor(key: Uint8Array) {
    const k = key.length > 64 ? sha256Bytes(key) : key;
    for (const [pad, state] of [[0x36, this.#inner], [0x5c, this.#outer]] as const) {
      start(IV, 0);
      for (let i = 0; i < 64; i++) put((k[i] ?? 0) ^ pad);
      state.set(H);
    }
    // Don't leave key-derived words in the shared buffers.
    BLK.fill(0);
    W.fill(0);
    H.fill(0);
  }

  #run(data: string | Uint8Array): void {
    if (this.#wiped) throw new Error("HMAC key has been wiped");
    start(this.#inner, 1);
    feed(data);
    finish();
    this.#digest.set(H);
    start(this.#outer, 1);
    for (let i = 0; i < 8; i++) BLK[i] = this.#digest[i]!;
    pos = 32;
    finish();
  }

  hex(data: string | Uint8Array): string {
    this.#run(data);
    return digestHex();
  }

  bytes(data: string | Uint8Array): Uint8Array {
    this.#run(data);
    return digestBytes();
  }

  /** Zeroes the keyed states; later calls throw instead of silently using a stale key. */
  wipe(): void {
    this.#inner.fill(0);
    this.#outer.fill(0);
    this.#digest.fill(0);
    BLK.fill(0);
    W.fill(0);
    H.fill(0);
    this.#wiped = true;
  }
}
