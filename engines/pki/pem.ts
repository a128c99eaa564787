/** PEM armour: RFC 7468 text with 64-column base64, and tolerant reading of bundles. */
import { BadRequest, fields } from "../sdk.ts";

export function toPem(label: string, der: Uint8Array): string {
  const b64 = der.toBase64();
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----`;
}

export interface PemBlock {
  label: string;
  der: Uint8Array<ArrayBuffer>;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every block in `text`, in order; bad base64 is a 400 naming the block's label. */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2]!.replace(/\s+/g, "");
    try {
      out.push({ label: m[1]!, der: Uint8Array.fromBase64(body) });
    } catch {
      throw new BadRequest(`invalid base64 in PEM block ${fields.quoted(m[1]!)}`);
    }
  }
  return out;
}

/** Exactly one block with one of `labels`, or a 400 saying what was expected. */
export function singlePem(text: string, labels: string[], field: string): Uint8Array<ArrayBuffer> {
  const blocks = pemBlocks(text).filter((b) => labels.includes(b.label));
  if (blocks.length !== 1) {
    throw new BadRequest(`"${field}" must hold exactly one PEM ${labels[0]} block`);
  }
  return blocks[0]!.der;
}

export function certsFromPem(text: string): Uint8Array<ArrayBuffer>[] {
  return pemBlocks(text).filter((b) => b.label === "CERTIFICATE").map((b) => b.der);
}
