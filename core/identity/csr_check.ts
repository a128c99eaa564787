/**
 * A CSR's self-signature, checked before a one-time credential is spent on it (the PKI engine
 * checks it again when signing). @peculiar/x509 needs reflect-metadata loaded first.
 */
import "reflect-metadata";
import { Pkcs10CertificateRequest } from "@peculiar/x509";
import { BadRequest } from "../../lib/errors.ts";

export async function checkCsr(pem: string): Promise<void> {
  let csr: Pkcs10CertificateRequest;
  try {
    csr = new Pkcs10CertificateRequest(pem.trim());
  } catch {
    throw new BadRequest("could not parse the CSR");
  }
  const ok = await csr.verify().catch(() => false);
  if (!ok) throw new BadRequest("the CSR's signature is invalid");
}
