/** Distinguished names as DER, in the RDN order Go's crypto/x509 (and so Vault) writes them. */
import * as der from "./der.ts";
import type { Bytes } from "./der.ts";

export interface SubjectFields {
  common_name?: string;
  country?: string[];
  province?: string[];
  locality?: string[];
  street_address?: string[];
  postal_code?: string[];
  organization?: string[];
  ou?: string[];
  serial_number?: string;
}

const ATTRS: [keyof SubjectFields, string][] = [
  ["country", "2.5.4.6"],
  ["province", "2.5.4.8"],
  ["locality", "2.5.4.7"],
  ["street_address", "2.5.4.9"],
  ["postal_code", "2.5.4.17"],
  ["organization", "2.5.4.10"],
  ["ou", "2.5.4.11"],
  ["common_name", "2.5.4.3"],
  ["serial_number", "2.5.4.5"],
];

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** Country and serialNumber are PrintableString by definition; everything else is UTF8String. */
function value(attr: keyof SubjectFields, s: string): Bytes {
  return (attr === "country" || attr === "serial_number") && PRINTABLE.test(s)
    ? der.printableString(s)
    : der.utf8String(s);
}

export function encodeSubject(f: SubjectFields): Bytes {
  const rdns: Bytes[] = [];
  for (const [attr, oid] of ATTRS) {
    const v = f[attr];
    const list = v === undefined ? [] : Array.isArray(v) ? v : [v];
    for (const s of list) {
      if (s !== "") rdns.push(der.set1(der.sequence(der.oid(oid), value(attr, s))));
    }
  }
  return der.sequence(...rdns);
}
