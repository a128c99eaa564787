/**
 * What `secrethub server` checks before it opens the storage, and how a failed start reads: one
 * line naming the config key, file or address (the caller prints `error: <message>`, exit 1).
 */

/** A start that cannot go on; the message is the whole line, without a stack. */
export class StartupError extends Error {
  override name = "StartupError";
}

import { fsProblem } from "../lib/fs_problem.ts";

export { fsProblem };

/** The listener's PEM certificate chain and key, and the files they came from. */
export interface ListenerTls {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

const CERT_KEY = "listener.tls_cert_file";
const KEY_KEY = "listener.tls_key_file";

async function readPem(configKey: string, file: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (e) {
    throw new StartupError(`${configKey}: ${file}: ${fsProblem(e)}`);
  }
}

/**
 * Reads both TLS files and checks they hold what their key says: a PEM certificate and a PEM
 * private key. Whether the two match, and whether the DER inside parses, the TLS library tells
 * when the listener is bound (tlsProblem).
 */
export async function readListenerTls(certFile: string, keyFile: string): Promise<ListenerTls> {
  const cert = await readPem(CERT_KEY, certFile);
  const key = await readPem(KEY_KEY, keyFile);
  if (!/-----BEGIN CERTIFICATE-----/.test(cert)) {
    throw new StartupError(`${CERT_KEY}: ${certFile}: no PEM certificate in the file`);
  }
  if (!/-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/.test(key)) {
    throw new StartupError(`${KEY_KEY}: ${keyFile}: no PEM private key in the file`);
  }
  return { cert, key, certFile, keyFile };
}

/** The line for a TLS error the listener raised when it was bound with these files. */
export function tlsProblem(tls: ListenerTls, e: Error): string | null {
  const m = e.message;
  if (/KeyMismatch|keys may not be consistent/i.test(m)) {
    return `${KEY_KEY}: ${tls.keyFile}: the key does not match the certificate in ${CERT_KEY} ` +
      tls.certFile;
  }
  if (/No keys found|private key|key data/i.test(m)) {
    return `${KEY_KEY}: ${tls.keyFile}: ${m}`;
  }
  // rustls's words for a certificate whose DER does not parse ("invalid peer certificate").
  const bad = /invalid peer certificate: (\w+)/.exec(m);
  if (bad) return `${CERT_KEY}: ${tls.certFile}: the certificate does not parse (${bad[1]})`;
  if (/certificate/i.test(m)) return `${CERT_KEY}: ${tls.certFile}: ${m}`;
  if (e instanceof Deno.errors.InvalidData || /tls|rustls|pem|der/i.test(m)) {
    return `${CERT_KEY} ${tls.certFile}, ${KEY_KEY} ${tls.keyFile}: ${m}`;
  }
  return null;
}

/** The line for an error binding a listen address (`label` is the config key or flag). */
export function bindProblem(label: string, address: string, e: unknown): string {
  const at = `${label} ${address}`;
  if (e instanceof Deno.errors.AddrInUse || (e as { code?: string })?.code === "EADDRINUSE") {
    return `${at}: address already in use`;
  }
  if (
    e instanceof Deno.errors.AddrNotAvailable ||
    (e as { code?: string })?.code === "EADDRNOTAVAIL"
  ) {
    return `${at}: address not available on this host`;
  }
  if (e instanceof Deno.errors.PermissionDenied || (e as { code?: string })?.code === "EACCES") {
    return `${at}: permission denied`;
  }
  const m = e instanceof Error ? e.message : String(e);
  return `${at}: ${m.replace(/\s*\(os error \d+\)$/, "")}`;
}
