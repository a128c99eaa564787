/**
 * Leaf issuance: `issue/:role` (key generated here, returned once), `sign/:role` (a verified CSR,
 * every name checked against the role), `sign-verbatim[/:role]` (sudo: the CSR's subject and SANs
 * as they are), and SecretHub's `issue` / `sign-request` with the role in the body.
 */
import { BadRequest, type EngineResponse, fields, type PathSpec, v } from "../sdk.ts";
import type { PkiBackend } from "./backend.ts";
import { parseCsr } from "./csr.ts";
import type { Bytes } from "./der.ts";
import { checkOid, extKeyUsage, extKeyUsageOid, keyUsage } from "./extensions.ts";
import {
  collectNames,
  issueLeaf,
  leafKeyUsage,
  roleExtKeyUsages,
  sanEntries,
  sanExtension,
  validity,
} from "./leaf.ts";
import { generateKey, type KeySpec, keySpec, privateKeyOut } from "./keys.ts";
import { enforceRole, type RequestedNames } from "./name_policy.ts";
import { certData, type CertFormat, certFormat, privateKeyFormat } from "./response.ts";
import { ROLE_DEFAULTS, type RoleRecord } from "./role.ts";
import { encodeSubject } from "./subject.ts";

const opt = v.optional;
const text = v.pipe(v.string(), v.maxLength(1024, "is too long"));
const csrField = v.pipe(v.string("is required"), v.maxLength(65536, "is too long"));
const roleField = v.pipe(v.string("is required"), v.minLength(1, "is required"));

const nameEntries = {
  common_name: opt(text),
  ...sanEntries,
  exclude_cn_from_sans: opt(fields.bool),
  ttl: opt(fields.duration),
  not_after: opt(text),
  format: certFormat,
  private_key_format: privateKeyFormat,
};

const issueInput = v.looseObject(nameEntries);
const signInput = v.looseObject({ ...nameEntries, csr: csrField });
const issueAliasInput = v.looseObject({ ...nameEntries, role: roleField });
const signAliasInput = v.looseObject({ ...nameEntries, role: roleField, csr: csrField });
const verbatimInput = v.looseObject({
  csr: csrField,
  ttl: opt(fields.duration),
  not_after: opt(text),
  format: certFormat,
  key_usage: opt(fields.stringList),
  ext_key_usage: opt(fields.stringList),
  ext_key_usage_oids: opt(fields.stringList),
});

type IssueInput = v.InferOutput<typeof issueInput>;
type SignInput = v.InferOutput<typeof signInput>;

/** Subject, key usage, EKU and SAN extensions for a role-governed leaf. */
function roleTemplate(role: RoleRecord, names: RequestedNames, spec: KeySpec) {
  const subject = encodeSubject({
    common_name: names.commonName,
    organization: role.organization,
    ou: role.ou,
    country: role.country,
    locality: role.locality,
    province: role.province,
    street_address: role.street_address,
    postal_code: role.postal_code,
  });
  const extensions = [
    keyUsage(leafKeyUsage(role.key_usage, spec)),
    extKeyUsage(roleExtKeyUsages(role)),
    sanExtension(names, names.commonName === "" && role.organization.length === 0),
  ];
  return { subject, extensions };
}

function result(data: Record<string, unknown>, warnings: string[]): EngineResponse {
  return warnings.length ? { data, warnings } : { data };
}

async function issueWithRole(
  b: PkiBackend,
  roleName: string,
  body: IssueInput,
): Promise<EngineResponse> {
  const role = await b.roles.require(roleName);
  if (role.key_type === "any") {
    throw new BadRequest(
      'role key type "any" not allowed for issuing certificates, only signing',
    );
  }
  const names = collectNames(body, role, null);
  enforceRole(role, names);
  const ca = await b.ca.require();
  const spec = keySpec(role.key_type, role.key_bits);
  const key = await generateKey(spec);
  const t = roleTemplate(role, names, spec);
  const issued = await issueLeaf(b, ca, {
    subject: t.subject,
    spki: key.spki,
    validity: validity(b.now(), body, role, b.mountTtls(), ca.notAfter),
    extensions: t.extensions,
  }, !role.no_store);
  const keyText = privateKeyOut(
    spec,
    key.pkcs8,
    body.private_key_format ?? "",
    body.format === "der",
  );
  return result(
    certData(ca, issued, body.format as CertFormat, { text: keyText, type: spec.type }),
    issued.warnings,
  );
}

/**
 * What a role adds to the strength floor parseCsr already applied to every CSR: "any" adds
 * nothing, a typed role pins the type and a minimum size (key_bits 0 meaning the type's default).
 */
function checkKey(role: RoleRecord, spec: KeySpec): void {
  if (role.key_type === "any") return;
  if (spec.type !== role.key_type) {
    throw new BadRequest(`role requires keys of type ${role.key_type}`);
  }
  const minBits = role.key_bits || keySpec(role.key_type, 0).bits;
  if (spec.bits < minBits) {
    throw new BadRequest(`role requires a minimum of ${minBits}-bit ${role.key_type} keys`);
  }
}

async function signWithRole(
  b: PkiBackend,
  roleName: string,
  body: SignInput,
): Promise<EngineResponse> {
  const role = await b.roles.require(roleName);
  const csr = await parseCsr(body.csr);
  checkKey(role, csr.spec);
  const names = collectNames(body, role, csr);
  enforceRole(role, names);
  const ca = await b.ca.require();
  const t = roleTemplate(role, names, csr.spec);
  const issued = await issueLeaf(b, ca, {
    subject: t.subject,
    spki: csr.spki,
    validity: validity(b.now(), body, role, b.mountTtls(), ca.notAfter),
    extensions: t.extensions,
  }, !role.no_store);
  return result(certData(ca, issued, body.format as CertFormat), issued.warnings);
}

async function signVerbatim(
  b: PkiBackend,
  roleName: string | null,
  body: v.InferOutput<typeof verbatimInput>,
): Promise<EngineResponse> {
  const role = roleName ? await b.roles.require(roleName) : null;
  const csr = await parseCsr(body.csr);
  const ca = await b.ca.require();
  let eku: Bytes | null;
  if (body.ext_key_usage !== undefined || body.ext_key_usage_oids !== undefined) {
    eku = extKeyUsage([
      ...(body.ext_key_usage ?? []).map(extKeyUsageOid),
      ...(body.ext_key_usage_oids ?? []).map((o) => checkOid(o, "ext_key_usage_oids")),
    ]);
  } else eku = csr.ekuExtension;
  const issued = await issueLeaf(b, ca, {
    subject: csr.subject,
    spki: csr.spki,
    validity: validity(b.now(), body, role ?? ROLE_DEFAULTS, b.mountTtls(), ca.notAfter),
    // Only names and EKU come from the CSR: a CSR asking for CA:true or other extensions
    // does not get them.
    extensions: [
      keyUsage(leafKeyUsage(body.key_usage ?? ROLE_DEFAULTS.key_usage, csr.spec)),
      eku,
      csr.sanExtension,
    ],
  }, !(role?.no_store ?? false));
  return result(certData(ca, issued, body.format as CertFormat), issued.warnings);
}

export function issuePaths(b: PkiBackend): PathSpec[] {
  return [
    {
      pattern: "issue/:role",
      input: { write: issueInput },
      synopsis: "Issue a certificate with a key generated by the server",
      operations: { update: (req) => issueWithRole(b, req.params.role!, req.data as IssueInput) },
    },
    {
      pattern: "sign/:role",
      input: { write: signInput },
      synopsis: "Sign a CSR under a role",
      operations: { update: (req) => signWithRole(b, req.params.role!, req.data as SignInput) },
    },
    {
      pattern: "sign-verbatim",
      sudo: true,
      input: { write: verbatimInput },
      synopsis: "Sign a CSR with its own subject and names (sudo)",
      operations: {
        update: (req) => signVerbatim(b, null, req.data as v.InferOutput<typeof verbatimInput>),
      },
    },
    {
      pattern: "sign-verbatim/:role",
      sudo: true,
      input: { write: verbatimInput },
      synopsis: "Sign a CSR with its own subject and names, with a role's lifetime (sudo)",
      operations: {
        update: (req) =>
          signVerbatim(b, req.params.role!, req.data as v.InferOutput<typeof verbatimInput>),
      },
    },
    {
      pattern: "issue",
      input: { write: issueAliasInput },
      synopsis: "Issue a certificate; the role is in the body (SecretHub route)",
      operations: {
        update: (req) => {
          const body = req.data as v.InferOutput<typeof issueAliasInput>;
          return issueWithRole(b, body.role, body);
        },
      },
    },
    {
      pattern: "sign-request",
      input: { write: signAliasInput },
      synopsis: "Sign a CSR; the role is in the body (SecretHub route)",
      operations: {
        update: (req) => {
          const body = req.data as v.InferOutput<typeof signAliasInput>;
          return signWithRole(b, body.role, body);
        },
      },
    },
  ];
}
