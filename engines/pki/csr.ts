/**
 * Reading a client's PKCS#10 request. The signature is always checked: a CSR whose signature does
 * not verify proves nothing about who holds the key, so it is refused before any name is looked at.
 * Every caller (sign/:role, sign-verbatim, root/sign-intermediate) gets a key that meets
 * checkKeyStrength; a role can only narrow it further.
 */
import { BadRequest } from "../sdk.ts";
import * as der from "./der.ts";
import type { Bytes } from "./der.ts";
import { parseIp } from "./ip.ts";
import { checkKeyStrength, type KeySpec, specFromSpki } from "./keys.ts";
import { singlePem } from "./pem.ts";
import * as x509 from "./x509.ts";

export interface ParsedCsr {
  spki: Bytes;
  spec: KeySpec;
  /** The subject Name exactly as the CSR carries it. */
  subject: Bytes;
  commonName: string;
  dns: string[];
  email: string[];
  ip: string[];
  uri: string[];
  /** The CSR's SAN and EKU extensions, encoded, for sign-verbatim. */
  sanExtension: Bytes | null;
  ekuExtension: Bytes | null;
}

const OID_SAN = "2.5.29.17";
const OID_EKU = "2.5.29.37";

export async function parseCsr(pem: string): Promise<ParsedCsr> {
  const body = singlePem(pem, ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"], "csr");
  let csr: x509.Pkcs10CertificateRequest;
  let subject: Bytes;
  let spki: Bytes;
  try {
    csr = new x509.Pkcs10CertificateRequest(body);
    const [info] = der.children(body, der.root(body));
    const [, subj, key] = der.children(body, info!);
    subject = der.raw(body, subj!);
    spki = der.raw(body, key!);
  } catch {
    throw new BadRequest("could not parse the CSR");
  }
  // Before the signature: a key WebCrypto cannot import (P-224, say) would otherwise be reported
  // as a bad signature rather than as the key it is.
  const spec = specFromSpki(spki);
  checkKeyStrength(spec);
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) throw new BadRequest("the CSR's signature is invalid");

  const out: ParsedCsr = {
    spki,
    spec,
    subject,
    commonName: csr.subjectName.getField("CN")[0] ?? "",
    dns: [],
    email: [],
    ip: [],
    uri: [],
    sanExtension: null,
    ekuExtension: null,
  };
  const san = csr.getExtension(OID_SAN);
  if (san) {
    out.sanExtension = new Uint8Array(san.rawData);
    let names: x509.JsonGeneralNames;
    try {
      names = new x509.SubjectAlternativeNameExtension(san.rawData).names.toJSON();
    } catch {
      throw new BadRequest("the CSR's subject alternative names could not be parsed");
    }
    for (const n of names) {
      if (n.type === "dns") out.dns.push(n.value);
      else if (n.type === "email") out.email.push(n.value);
      else if (n.type === "url") out.uri.push(n.value);
      else if (n.type === "ip" && parseIp(n.value)) out.ip.push(n.value);
      else throw new BadRequest(`unsupported subject alternative name type "${n.type}" in the CSR`);
    }
  }
  const eku = csr.getExtension(OID_EKU);
  if (eku) out.ekuExtension = new Uint8Array(eku.rawData);
  return out;
}
