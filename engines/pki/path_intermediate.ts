/**
 * The intermediate flow: `intermediate/generate/:type` (key kept here, CSR out), the parent's
 * `root/sign-intermediate`, and `intermediate/set-signed` (the signed certificate, possibly with
 * its issuers, becomes this mount's CA). Also SecretHub's `ca/intermediate/generate`.
 */
import { BadRequest, type EngineResponse, fields, type PathSpec, v } from "../sdk.ts";
import type { PkiBackend } from "./backend.ts";
import {
  ALREADY_HAVE_CA,
  caExtensions,
  type CaGenerateInput,
  checkGenerateType,
  generateAliasPath,
  generatePath,
  installCa,
  subjectEntries,
} from "./ca_build.ts";
import { bytesEqual, certParts, keyIdentifier, signCertificate } from "./certificate.ts";
import { parseCsr } from "./csr.ts";
import { buildCsr } from "./csr_build.ts";
import type { Bytes } from "./der.ts";
import { collectNames, sanExtension, validity } from "./leaf.ts";
import { generateKey, keySpec, privateKeyOut, signatureScheme, specFromSpki } from "./keys.ts";
import { certsFromPem, toPem } from "./pem.ts";
import { certData } from "./response.ts";
import { formatSerial, randomSerial } from "./serial.ts";
import { encodeSubject } from "./subject.ts";
import * as x509 from "./x509.ts";

async function generateIntermediate(
  b: PkiBackend,
  type: string,
  body: CaGenerateInput,
): Promise<EngineResponse> {
  checkGenerateType(type);
  const spec = keySpec(body.key_type ?? "ec", body.key_bits);
  const names = collectNames(
    body,
    { use_csr_common_name: false, use_csr_sans: false, require_cn: true },
    null,
  );
  return await b.lock.run(async () => {
    if (await b.store.ca()) throw new BadRequest(ALREADY_HAVE_CA);
    const key = await generateKey(spec);
    const subject = encodeSubject(body);
    const san = sanExtension(names, false);
    const csr = await buildCsr(
      subject,
      key.spki,
      san ? [san] : [],
      key.privateKey,
      signatureScheme(spec),
    );
    const keyId = crypto.randomUUID();
    // Replaces any earlier pending key: only the latest CSR can be completed.
    await b.store.putPending({
      key: key.pkcs8.toBase64(),
      spki: key.spki.toBase64(),
      key_type: spec.type,
      key_bits: spec.bits,
      key_id: keyId,
      csr,
    });
    const data: Record<string, unknown> = { csr, key_id: keyId };
    if (type === "exported") {
      data.private_key = privateKeyOut(
        spec,
        key.pkcs8,
        body.private_key_format ?? "",
        body.format === "der",
      );
      data.private_key_type = spec.type;
    }
    return { data };
  });
}

export function pathIntermediateGenerate(b: PkiBackend): PathSpec {
  return generatePath(
    "intermediate/generate/:type",
    "Generate an intermediate key and CSR for a parent CA to sign",
    (t, body) => generateIntermediate(b, t, body),
  );
}

export function pathIntermediateGenerateAlias(b: PkiBackend): PathSpec {
  return generateAliasPath(
    "ca/intermediate/generate",
    "Generate an intermediate key and CSR (SecretHub route)",
    (t, body) => generateIntermediate(b, t, body),
  );
}

const signIntermediateInput = v.looseObject({
  ...subjectEntries,
  csr: v.pipe(v.string("is required"), v.maxLength(65536, "is too long")),
  use_csr_values: v.optional(fields.bool),
});

export function pathSignIntermediate(b: PkiBackend): PathSpec {
  return {
    pattern: "root/sign-intermediate",
    input: { write: signIntermediateInput },
    synopsis: "Sign an intermediate CA's CSR with this mount's CA",
    operations: {
      async update(req) {
        const body = req.data as v.InferOutput<typeof signIntermediateInput>;
        const ca = await b.ca.require();
        if (ca.pathLength === 0) {
          throw new BadRequest("this CA has max_path_length 0 and cannot sign intermediates");
        }
        const csr = await parseCsr(body.csr);
        const useCsr = body.use_csr_values ?? false;
        const names = collectNames(
          body,
          { use_csr_common_name: true, use_csr_sans: useCsr, require_cn: true },
          csr,
        );
        const subject = useCsr
          ? csr.subject
          : encodeSubject({ ...body, common_name: names.commonName });
        // The parent's pathLen bounds the child's: a child may allow one level less.
        let pathLength = body.max_path_length ?? -1;
        if (ca.pathLength !== undefined && (pathLength < 0 || pathLength > ca.pathLength - 1)) {
          pathLength = ca.pathLength - 1;
        }
        // As in Vault: the mount's default and max lease TTL apply, and an intermediate that
        // would outlive this CA ends with it (truncate, Vault's default for intermediates).
        const life = {
          ttl: 0,
          max_ttl: 0,
          not_before_duration: 30,
          leaf_not_after_behavior: "truncate" as const,
        };
        const when = validity(b.now(), body, life, b.mountTtls(), ca.notAfter);
        const serial = randomSerial();
        const der = await signCertificate({
          serial,
          subject,
          notBefore: when.notBefore,
          notAfter: when.notAfter,
          spki: csr.spki,
          extensions: [
            ...caExtensions(keyIdentifier(csr.spki), ca.issuer.keyId, pathLength),
            sanExtension(names, false),
          ],
        }, ca.issuer);
        const pem = toPem("CERTIFICATE", der);
        const expiration = Math.floor(when.notAfter.getTime() / 1000);
        await b.store.putCert(formatSerial(serial, "-"), { certificate: pem, expiration });
        const data = certData(ca, {
          der,
          pem,
          serial: formatSerial(serial, ":"),
          expiration,
          warnings: when.warnings,
        }, body.format);
        return { data, warnings: when.warnings };
      },
    },
  };
}

/** Orders `pool` into the chain above `cert`: each next one issued (and signed) the previous. */
async function chainAbove(cert: Bytes, pool: Bytes[]): Promise<Bytes[]> {
  const chain: Bytes[] = [];
  const left = [...pool];
  let current = cert;
  for (;;) {
    const { issuer, subject } = certParts(current);
    if (bytesEqual(issuer, subject)) break;
    const child = new x509.X509Certificate(current);
    let found = -1;
    for (let i = 0; i < left.length; i++) {
      if (!bytesEqual(certParts(left[i]!).subject, issuer)) continue;
      const parent = new x509.X509Certificate(left[i]!);
      if (
        await child.verify({ publicKey: parent.publicKey, signatureOnly: true }).catch(() => false)
      ) {
        found = i;
        break;
      }
    }
    if (found < 0) break;
    current = left.splice(found, 1)[0]!;
    chain.push(current);
  }
  return chain;
}

const setSignedInput = v.looseObject({
  certificate: v.pipe(v.string("is required"), v.maxLength(1 << 20, "is too long")),
});

export function pathSetSigned(b: PkiBackend): PathSpec {
  return {
    pattern: "intermediate/set-signed",
    input: { write: setSignedInput },
    synopsis: "Install the signed intermediate certificate as this mount's CA",
    operations: {
      update(req) {
        const body = req.data as v.InferOutput<typeof setSignedInput>;
        return b.lock.run(async () => {
          if (await b.store.ca()) throw new BadRequest(ALREADY_HAVE_CA);
          const pending = await b.store.pending();
          if (!pending) {
            throw new BadRequest(
              "no pending intermediate key: call intermediate/generate/internal first",
            );
          }
          const certs = certsFromPem(body.certificate);
          if (certs.length === 0) throw new BadRequest('no certificate found in "certificate"');
          const spki = Uint8Array.fromBase64(pending.spki);
          let own: Bytes | undefined;
          try {
            own = certs.find((c) => bytesEqual(certParts(c).spki, spki));
          } catch {
            throw new BadRequest('"certificate" holds a malformed certificate');
          }
          if (!own) {
            throw new BadRequest("the certificate does not match the pending intermediate key");
          }
          const parsed = new x509.X509Certificate(own);
          if (!parsed.getExtension(x509.BasicConstraintsExtension)?.ca) {
            throw new BadRequest("the certificate is not marked for CA use");
          }
          if (parsed.notAfter.getTime() <= b.now()) {
            throw new BadRequest("the certificate has expired");
          }
          const spec = specFromSpki(certParts(own).spki);
          const chain = await chainAbove(own, certs.filter((c) => c !== own));
          const warnings: string[] = [];
          const top = chain.at(-1) ?? own;
          if (!bytesEqual(certParts(top).issuer, certParts(top).subject)) {
            warnings.push(
              "the bundle does not reach a self-signed root; ca_chain ends at the last issuer given",
            );
          }
          const ca = await installCa(b, {
            certificate: toPem("CERTIFICATE", own),
            chain: chain.map((c) => toPem("CERTIFICATE", c)),
            key_type: spec.type,
            key_bits: spec.bits,
            issuer_id: crypto.randomUUID(),
            key_id: pending.key_id,
          }, Uint8Array.fromBase64(pending.key));
          return {
            data: {
              imported_issuers: [ca.record.issuer_id],
              imported_keys: [],
              existing_issuers: [],
              existing_keys: [pending.key_id],
              mapping: { [ca.record.issuer_id]: pending.key_id },
            },
            warnings,
          };
        });
      },
    },
  };
}
