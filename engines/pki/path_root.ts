/**
 * `root/generate/:type`, SecretHub's `ca/root/generate`, and `DELETE root`. The key is generated
 * here and stored only through the barrier; `exported` is the one time it is ever returned.
 */
import { BadRequest, type EngineResponse, type PathSpec } from "../sdk.ts";
import type { PkiBackend } from "./backend.ts";
import {
  ALREADY_HAVE_CA,
  caExtensions,
  type CaGenerateInput,
  checkGenerateType,
  generateAliasPath,
  generatePath,
  installCa,
} from "./ca_build.ts";
import { keyIdentifier, signCertificate } from "./certificate.ts";
import { chooseTtl, collectNames, parseNotAfter, sanExtension } from "./leaf.ts";
import { generateKey, keySpec, privateKeyOut, signatureScheme } from "./keys.ts";
import { toPem } from "./pem.ts";
import { randomSerial } from "./serial.ts";
import { encodeSubject } from "./subject.ts";

async function generateRoot(
  b: PkiBackend,
  type: string,
  body: CaGenerateInput,
): Promise<EngineResponse> {
  checkGenerateType(type);
  if (!body.common_name) throw new BadRequest("the common_name field is required");
  const spec = keySpec(body.key_type ?? "ec", body.key_bits);
  const names = collectNames(body, {
    use_csr_common_name: false,
    use_csr_sans: false,
    require_cn: true,
  }, null);
  return await b.lock.run(async () => {
    if (await b.store.ca()) throw new BadRequest(ALREADY_HAVE_CA);
    const now = b.now();
    // Vault: the ttl defaults to the mount's default lease TTL and is capped by its max (tune
    // the mount to make a root last years); not_after is taken as given.
    let warnings: string[] = [];
    let notAfter: number;
    if (body.not_after) notAfter = parseNotAfter(body.not_after, now);
    else {
      const chosen = chooseTtl(body.ttl, { ttl: 0, max_ttl: 0 }, b.mountTtls());
      notAfter = now + chosen.ttl * 1000;
      warnings = chosen.warnings;
    }
    const key = await generateKey(spec);
    const ski = keyIdentifier(key.spki);
    const subject = encodeSubject(body);
    const der = await signCertificate({
      serial: randomSerial(),
      subject,
      notBefore: new Date(now - 30_000),
      notAfter: new Date(notAfter),
      spki: key.spki,
      extensions: [
        ...caExtensions(ski, ski, body.max_path_length ?? -1),
        sanExtension(names, false),
      ],
    }, { name: subject, keyId: ski, key: key.privateKey, scheme: signatureScheme(spec) });
    const certificate = toPem("CERTIFICATE", der);
    const ca = await installCa(b, {
      certificate,
      chain: [],
      key_type: spec.type,
      key_bits: spec.bits,
      issuer_id: crypto.randomUUID(),
      key_id: crypto.randomUUID(),
    }, key.pkcs8);
    const asDer = body.format === "der";
    const data: Record<string, unknown> = {
      certificate: asDer ? der.toBase64() : certificate,
      issuing_ca: asDer ? der.toBase64() : certificate,
      serial_number: ca.serial,
      expiration: Math.floor(ca.notAfter / 1000),
      issuer_id: ca.record.issuer_id,
      issuer_name: "",
      key_id: ca.record.key_id,
      key_name: "",
    };
    if (type === "exported") {
      data.private_key = privateKeyOut(spec, key.pkcs8, body.private_key_format ?? "", asDer);
      data.private_key_type = spec.type;
    }
    return warnings.length ? { data, warnings } : { data };
  });
}

export function pathRootGenerate(b: PkiBackend): PathSpec {
  return generatePath(
    "root/generate/:type",
    "Generate a self-signed root CA for this mount",
    (t, body) => generateRoot(b, t, body),
  );
}

export function pathRootGenerateAlias(b: PkiBackend): PathSpec {
  return generateAliasPath(
    "ca/root/generate",
    "Generate a self-signed root CA (SecretHub route)",
    (t, body) => generateRoot(b, t, body),
  );
}

/** Vault's `DELETE root`: drops the CA and its key; issued certificates and roles stay. */
export function pathRootDelete(b: PkiBackend): PathSpec {
  return {
    pattern: "root",
    sudo: true,
    synopsis: "Delete this mount's CA and its key",
    operations: {
      async delete() {
        await b.lock.run(async () => {
          await b.store.deleteCa();
          b.ca.set(null);
        });
      },
    },
  };
}
