/**
 * A CSR's self-signature and key strength, checked before a one-time credential is spent on it
 * or an agent id is claimed (the PKI engine checks both again when signing). @peculiar/x509
 * needs reflect-metadata loaded first.
 */
import "reflect-metadata";
import { Pkcs10CertificateRequest } from "@peculiar/x509";
import { BadRequest } from "../../lib/errors.ts";
import { checkKeyStrength, specFromSpki } from "../../engines/pki/keys.ts";

export async function checkCsr(pem: string): Promise<void> {
  let csr: Pkcs10CertificateRequest;
  try {
    csr = new Pkcs10CertificateRequest(pem.trim());
  } catch {
    throw new BadRequest("could not parse the CSR");
  }
  checkKeyStrength(specFromSpki(new Uint8Array(csr.publicKey.rawData)));
  const ok = await csr.verify().catch(() => false);
  if (!ok) throw new BadRequest("the CSR's signature is invalid");
}
