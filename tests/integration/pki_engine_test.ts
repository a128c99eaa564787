/**
 * The PKI engine through the real core (HTTP, ACL, audit, barrier): root → intermediate in a
 * second mount → leaves, checked by OpenSSL (`openssl verify` with TLS purposes), by
 * @peculiar/x509 (CRL parsing) and by a real mutual-TLS handshake on node:https.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate as NodeX509 } from "node:crypto";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { call, type Json, type TestCore, withTestCore } from "../helpers/test_core.ts";

const OPENSSL = "/usr/bin/openssl";

const withCore = withTestCore;

function pkiTest(name: string, fn: (t: TestCore) => Promise<void>): void {
  Deno.test(`pki ${name}`, () => withCore(fn));
}

async function mount(t: TestCore, path: string): Promise<void> {
  await call(t, "POST", `sys/mounts/${path}`, { type: "pki" }, 204);
}

/** Mounts `pki` (root, P-384) and `pki_int` (intermediate signed by it); returns both PEMs. */
async function rootAndIntermediate(t: TestCore): Promise<{ root: string; int: string }> {
  await mount(t, "pki");
  await mount(t, "pki_int");
  // As in Vault, a CA's ttl is capped by its mount's max lease TTL (768h untuned).
  await call(t, "POST", "sys/mounts/pki/tune", { max_lease_ttl: "87600h" }, 204);
  const root = (await call(t, "POST", "pki/root/generate/internal", {
    common_name: "SecretHub Test Root",
    key_type: "ec",
    key_bits: 384,
    ttl: "87600h",
  })).data;
  const csr = (await call(t, "POST", "pki_int/intermediate/generate/internal", {
    common_name: "SecretHub Test Intermediate",
  })).data;
  assert.match(csr.csr, /^-----BEGIN CERTIFICATE REQUEST-----/);
  assert.equal(csr.private_key, undefined);
  const signed = (await call(t, "POST", "pki/root/sign-intermediate", {
    csr: csr.csr,
    common_name: "SecretHub Test Intermediate",
    ttl: "43800h",
  })).data;
  assert.equal(signed.issuing_ca, root.certificate);
  assert.deepEqual(signed.ca_chain, [root.certificate]);
  assert.match(signed.serial_number, /^[0-9a-f]{2}(:[0-9a-f]{2}){15}$/);
  // The signing mount's max lease TTL (tuned above) bounds it, not the 768h system default.
  const intLife = Date.parse(new NodeX509(signed.certificate).validTo) - Date.now();
  assert.ok(intLife > 43000 * 3600_000, `intermediate lifetime ${intLife}`);
  await call(t, "POST", "pki_int/intermediate/set-signed", {
    certificate: `${signed.certificate}\n${signed.issuing_ca}`,
  });
  return { root: root.certificate, int: signed.certificate };
}

/**
 * Writes a role. Unless the body says otherwise it truncates at the CA's expiry: most roots here
 * have the default 768h lifetime, and so do leaves, which the default ("err") would refuse.
 */
async function role(t: TestCore, mountPath: string, name: string, body: Json): Promise<void> {
  const r = await t.req("POST", `/v1/${mountPath}/roles/${name}`, {
    leaf_not_after_behavior: "truncate",
    ...body,
  });
  assert.ok(r.status === 200 || r.status === 204, r.text);
}

/** Runs `openssl verify` on PEMs written to a temp dir; true when OpenSSL accepts the chain. */
async function opensslVerify(
  opts: { root: string; untrusted?: string[]; leaf: string; purpose?: string; crl?: string },
): Promise<{ ok: boolean; out: string }> {
  const dir = await Deno.makeTempDir({ prefix: "pki-verify-" });
  try {
    const args = ["verify", "-CAfile", `${dir}/root.pem`];
    await Deno.writeTextFile(`${dir}/root.pem`, opts.root + "\n");
    if (opts.untrusted?.length) {
      await Deno.writeTextFile(`${dir}/untrusted.pem`, opts.untrusted.join("\n") + "\n");
      args.push("-untrusted", `${dir}/untrusted.pem`);
    }
    if (opts.purpose) args.push("-purpose", opts.purpose);
    if (opts.crl) {
      await Deno.writeTextFile(`${dir}/crl.pem`, opts.crl);
      args.push("-crl_check", "-CRLfile", `${dir}/crl.pem`);
    }
    await Deno.writeTextFile(`${dir}/leaf.pem`, opts.leaf + "\n");
    args.push(`${dir}/leaf.pem`);
    const out = await new Deno.Command(OPENSSL, { args, stdout: "piped", stderr: "piped" })
      .output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    return { ok: out.success, out: text };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const EC256 = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };

async function makeCsr(
  subject: string,
  sans: x509.JsonGeneralNames = [],
): Promise<{ pem: string; der: Uint8Array }> {
  const keys = await crypto.subtle.generateKey(EC256, true, ["sign", "verify"]) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys,
    signingAlgorithm: EC256,
    extensions: sans.length ? [new x509.SubjectAlternativeNameExtension(sans)] : [],
  });
  return { pem: csr.toString("pem"), der: new Uint8Array(csr.rawData) };
}

/** An unauthenticated GET read as bytes: the DER routes must arrive unaltered. */
async function getBytes(
  t: TestCore,
  path: string,
): Promise<{ status: number; type: string | null; bytes: Uint8Array<ArrayBuffer> }> {
  const res = await fetch(`${t.url}/v1/${path}`);
  return { status: res.status, type: res.headers.get("content-type"), bytes: await res.bytes() };
}

/** The one PEM block's DER (PEM bodies here are single objects). */
function pemDer(pem: string): Uint8Array {
  return Uint8Array.fromBase64(pem.replace(/-----[^-]+-----|\s/g, ""));
}

function serialBigInt(s: string): bigint {
  return BigInt("0x" + s.replace(/[:-]/g, ""));
}

pkiTest(
  "root → intermediate → leaves verify with openssl for server and client purposes",
  async (t) => {
    const { root, int } = await rootAndIntermediate(t);
    const chain = (await t.req("GET", "/v1/pki_int/ca_chain", undefined, null)).text;
    assert.equal(chain, `${int}\n${root}\n`);

    await role(t, "pki_int", "server", {
      allowed_domains: ["example.com"],
      allow_subdomains: true,
      client_flag: false,
      max_ttl: "72h",
    });
    await role(t, "pki_int", "client", {
      allowed_domains: "example.com",
      allow_subdomains: true,
      server_flag: false,
    });

    const server = (await call(t, "POST", "pki_int/issue/server", {
      common_name: "api.example.com",
      alt_names: "www.example.com",
      ip_sans: "10.0.0.7",
      ttl: "1h",
    })).data;
    assert.equal(server.issuing_ca, int);
    assert.deepEqual(server.ca_chain, [int, root]);
    assert.equal(server.private_key_type, "ec");
    assert.match(server.private_key, /^-----BEGIN EC PRIVATE KEY-----/);
    const leaf = new NodeX509(server.certificate);
    assert.equal(
      leaf.subjectAltName,
      "DNS:api.example.com, DNS:www.example.com, IP Address:10.0.0.7",
    );
    assert.equal(serialBigInt(server.serial_number), BigInt("0x" + leaf.serialNumber));
    const life = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
    assert.ok(Math.abs(life - 3630_000) <= 2000, `lifetime ${life}`);
    assert.equal(server.expiration, Math.floor(Date.parse(leaf.validTo) / 1000));
    assert.ok(leaf.checkPrivateKey(createPrivateKey(server.private_key)));

    const client = (await call(t, "POST", "pki_int/issue/client", {
      common_name: "worker.example.com",
    })).data;

    const verify = (leafPem: string, purpose: string) =>
      opensslVerify({ root, untrusted: [int], leaf: leafPem, purpose });
    assert.ok((await verify(server.certificate, "sslserver")).ok);
    assert.ok((await verify(client.certificate, "sslclient")).ok);
    const wrongWay = await verify(client.certificate, "sslserver");
    assert.equal(wrongWay.ok, false);
    assert.match(wrongWay.out, /unsuitable certificate purpose/);
    assert.equal((await verify(server.certificate, "sslclient")).ok, false);

    // sign/:role: the key comes from the CSR, the names from the request and the CSR's SANs.
    const csr = await makeCsr("CN=svc.example.com", [{ type: "dns", value: "alt.example.com" }]);
    const signed = (await call(t, "POST", "pki_int/sign/server", { csr: csr.pem })).data;
    assert.equal(signed.private_key, undefined);
    assert.deepEqual(signed.ca_chain, [int, root]);
    const signedCert = new x509.X509Certificate(signed.certificate);
    assert.equal(signedCert.subject, "CN=svc.example.com");
    const csrKey = new x509.Pkcs10CertificateRequest(csr.pem).publicKey.rawData;
    assert.deepEqual(new Uint8Array(signedCert.publicKey.rawData), new Uint8Array(csrKey));
    assert.equal(
      new NodeX509(signed.certificate).subjectAltName,
      "DNS:svc.example.com, DNS:alt.example.com",
    );
    assert.ok((await verify(signed.certificate, "sslserver")).ok);

    // The root mount recorded the intermediate it signed; the intermediate mount its leaves.
    const rootCerts = (await call(t, "LIST", "pki/certs")).data.keys;
    assert.equal(rootCerts.length, 2);
    const intCerts = (await call(t, "LIST", "pki_int/certs")).data.keys;
    for (const s of [server.serial_number, client.serial_number, signed.serial_number]) {
      assert.ok(intCerts.includes(s.replaceAll(":", "-")), s);
    }
  },
);

pkiTest("names outside the role are refused", async (t) => {
  await mount(t, "pki");
  await call(t, "POST", "pki/root/generate/internal", { common_name: "Root" });
  await role(t, "pki", "web", {
    allowed_domains: "example.com",
    allow_subdomains: true,
    allowed_uri_sans: "spiffe://example.com/*",
  });
  await role(t, "pki", "noip", {
    allowed_domains: "example.com",
    allow_bare_domains: true,
    allow_ip_sans: false,
  });

  const refuse = async (path: string, body: Json, msg: RegExp) => {
    const r = await t.req("POST", `/v1/pki/${path}`, body);
    assert.equal(r.status, 400, r.text);
    assert.match(r.body.errors[0], msg);
  };
  await refuse(
    "issue/web",
    { common_name: "evil.com" },
    /^common name evil\.com not allowed by this role$/,
  );
  await refuse(
    "issue/web",
    { common_name: "a.example.com", alt_names: "b.example.com,evil.org" },
    /^subject alternative name evil\.org not allowed by this role$/,
  );
  // Bare domain needs allow_bare_domains; a suffix match must be on a label boundary.
  await refuse("issue/web", { common_name: "example.com" }, /not allowed/);
  await refuse("issue/web", { common_name: "badexample.com" }, /not allowed/);
  await refuse("issue/web", { common_name: "a.example.com", uri_sans: "spiffe://evil/x" }, /URI/);
  await refuse("issue/noip", { common_name: "example.com", ip_sans: "10.1.1.1" }, /IP Subject/);
  await refuse(
    "issue/web",
    { common_name: "a.example.com", ip_sans: "10.1.1.300" },
    /not a valid IP/,
  );
  await refuse("issue/nope", { common_name: "a.example.com" }, /unknown role/);

  // The CSR's own SANs are checked too, not just the request's.
  const csr = await makeCsr("CN=ok.example.com", [{ type: "dns", value: "evil.org" }]);
  await refuse("sign/web", { csr: csr.pem }, /^subject alternative name evil\.org not allowed/);
  const csrCn = await makeCsr("CN=evil.org");
  await refuse("sign/web", { csr: csrCn.pem }, /^common name evil\.org not allowed/);

  const okUri = (await call(t, "POST", "pki/issue/web", {
    common_name: "a.example.com",
    uri_sans: "spiffe://example.com/svc/api",
  })).data;
  assert.match(
    new NodeX509(okUri.certificate).subjectAltName!,
    /URI:spiffe:\/\/example\.com\/svc\/api/,
  );
  const wildcard =
    (await call(t, "POST", "pki/issue/web", { common_name: "*.api.example.com" })).data;
  assert.equal(new NodeX509(wildcard.certificate).subjectAltName, "DNS:*.api.example.com");
  const localhost = (await call(t, "POST", "pki/issue/web", { common_name: "localhost" })).data;
  assert.equal(new NodeX509(localhost.certificate).subjectAltName, "DNS:localhost");
});

pkiTest("a CSR with a bad signature is refused", async (t) => {
  await mount(t, "pki");
  await call(t, "POST", "pki/root/generate/internal", { common_name: "Root" });
  await role(t, "pki", "web", { allowed_domains: "example.com", allow_subdomains: true });
  const csr = await makeCsr("CN=a.example.com");
  const tampered = csr.der.slice();
  tampered[tampered.length - 1]! ^= 0x01;
  const pem = new x509.Pkcs10CertificateRequest(tampered).toString("pem");
  for (const path of ["sign/web", "sign-verbatim", "root/sign-intermediate"]) {
    const r = await t.req("POST", `/v1/pki/${path}`, { csr: pem, common_name: "a.example.com" });
    assert.equal(r.status, 400, `${path}: ${r.text}`);
    assert.equal(r.body.errors[0], "the CSR's signature is invalid");
  }
  const garbage = await t.req("POST", "/v1/pki/sign/web", { csr: "not a csr" });
  assert.equal(garbage.status, 400);
  // The untampered CSR is fine, and sign-verbatim keeps its subject as is.
  await call(t, "POST", "pki/sign/web", { csr: csr.pem });
  // Shorter than the root's default 768h: sign-verbatim has no role to truncate with.
  const verbatim = (await call(t, "POST", "pki/sign-verbatim", { csr: csr.pem, ttl: "1h" }))
    .data;
  assert.equal(new x509.X509Certificate(verbatim.certificate).subject, "CN=a.example.com");
});

pkiTest("revocation: the serial appears in the signed CRL and in cert/:serial", async (t) => {
  const { root, int } = await rootAndIntermediate(t);
  await role(t, "pki_int", "web", { allowed_domains: "example.com", allow_subdomains: true });
  const a = (await call(t, "POST", "pki_int/issue/web", { common_name: "a.example.com" })).data;
  const b = (await call(t, "POST", "pki_int/issue/web", { common_name: "b.example.com" })).data;

  const before = await t.req("GET", `/v1/pki_int/cert/${a.serial_number}`, undefined, null);
  assert.equal(before.status, 200);
  assert.equal(before.body.data.certificate, a.certificate);
  assert.equal(before.body.data.revocation_time, 0);
  assert.equal(before.body.data.revocation_time_rfc3339, "");

  // Vault accepts the serial with colons or hyphens.
  const rev = (await call(t, "POST", "pki_int/revoke", {
    serial_number: a.serial_number.replaceAll(":", "-"),
  })).data;
  assert.equal(rev.state, "revoked");
  assert.ok(Math.abs(rev.revocation_time - Date.now() / 1000) < 60);
  assert.match(rev.revocation_time_rfc3339, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/);
  // Revoking again answers with the first revocation.
  assert.deepEqual(
    (await call(t, "POST", "pki_int/revoke", { serial_number: a.serial_number })).data,
    rev,
  );

  const after = (await call(t, "GET", `pki_int/cert/${a.serial_number}`)).data;
  assert.equal(after.revocation_time, rev.revocation_time);
  assert.equal(after.revocation_time_rfc3339, rev.revocation_time_rfc3339);

  const crlRes = await t.req("GET", "/v1/pki_int/crl/pem", undefined, null);
  assert.equal(crlRes.status, 200);
  const crl = new x509.X509Crl(crlRes.text);
  const intCert = new x509.X509Certificate(int);
  assert.ok(await crl.verify({ publicKey: intCert.publicKey }));
  assert.equal(crl.issuer, intCert.subject);
  const serials = crl.entries.map((e) => BigInt("0x" + e.serialNumber));
  assert.deepEqual(serials, [serialBigInt(a.serial_number)]);
  const next = crl.nextUpdate!.getTime() - crl.thisUpdate.getTime();
  assert.equal(next, 72 * 3600 * 1000);
  // Vault's `crl` is the same CRL in DER (application/pkix-crl); only `crl/pem` is text.
  const crlDer = await getBytes(t, "pki_int/crl");
  assert.equal(crlDer.status, 200);
  assert.equal(crlDer.type, "application/pkix-crl");
  assert.deepEqual(crlDer.bytes, pemDer(crlRes.text));
  assert.equal(new x509.X509Crl(crlDer.bytes).entries.length, 1);
  assert.equal((await call(t, "GET", "pki_int/cert/crl")).data.certificate, crlRes.text.trimEnd());

  // OpenSSL agrees: a is revoked, b is not.
  const check = (leaf: string) =>
    opensslVerify({ root, untrusted: [int], leaf, crl: crlRes.text, purpose: "sslserver" });
  const revoked = await check(a.certificate);
  assert.equal(revoked.ok, false);
  assert.match(revoked.out, /certificate revoked/);
  // -crl_check checks only the leaf, whose CRL is the intermediate's.
  assert.ok((await check(b.certificate)).ok, (await check(b.certificate)).out);

  assert.deepEqual((await call(t, "LIST", "pki_int/certs/revoked")).data.keys, [
    a.serial_number.replaceAll(":", "-"),
  ]);
  // The CA itself cannot be revoked, and unknown serials are a 400.
  // Node drops a leading zero nibble (serial 0x08… prints as "8…"): pad before pairing.
  const hex = new NodeX509(int).serialNumber.toLowerCase();
  const caSerial = (hex.length % 2 ? "0" + hex : hex).match(/../g)!.join(":");
  const caRevoke = await t.req("POST", "/v1/pki_int/revoke", { serial_number: caSerial });
  assert.equal(caRevoke.status, 400);
  assert.equal(caRevoke.body.errors[0], "adding CA to CRL is not allowed");
  const unknown = await t.req("POST", "/v1/pki_int/revoke", { serial_number: "01:02:03" });
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.errors[0], /certificate with serial 01:02:03 not found/);

  // Revoking by certificate works as well, and the CRL grows.
  await call(t, "POST", "pki_int/revoke", { certificate: b.certificate });
  const crl2 = new x509.X509Crl((await t.req("GET", "/v1/pki_int/crl/pem", undefined, null)).text);
  assert.equal(crl2.entries.length, 2);
  assert.ok(crl2.findRevoked(new x509.X509Certificate(b.certificate)));
});

pkiTest("every path is policy-checked except the public CA, CRL and cert fetches", async (t) => {
  await mount(t, "pki");
  const root = (await call(t, "POST", "pki/root/generate/internal", { common_name: "Root" })).data;
  await role(t, "pki", "web", { allowed_domains: "example.com", allow_subdomains: true });
  await call(t, "PUT", "sys/policies/acl/pki-issue", {
    policy: `path "pki/issue/web" { capabilities = ["update"] }
path "pki/sign-verbatim" { capabilities = ["update"] }`,
  }, 204);
  const none =
    (await call(t, "POST", "auth/token/create", { policies: ["default"] })).auth.client_token;
  const issuer = (await call(t, "POST", "auth/token/create", { policies: ["pki-issue"] })).auth
    .client_token;

  const body = { common_name: "a.example.com" };
  assert.equal((await t.req("POST", "/v1/pki/issue/web", body, none)).status, 403);
  assert.equal((await t.req("POST", "/v1/pki/issue/web", body, null)).status, 403);
  assert.equal((await t.req("POST", "/v1/pki/root/generate/internal", body, issuer)).status, 403);
  assert.equal((await t.req("LIST", "/v1/pki/certs", undefined, none)).status, 403);
  const issued = await t.req("POST", "/v1/pki/issue/web", body, issuer);
  assert.equal(issued.status, 200, issued.text);
  // sign-verbatim is root-protected: update alone is not enough.
  const csr = await makeCsr("CN=a.example.com");
  assert.equal(
    (await t.req("POST", "/v1/pki/sign-verbatim", { csr: csr.pem }, issuer)).status,
    403,
  );

  for (const path of ["ca/pem", "ca_chain"]) {
    const r = await t.req("GET", `/v1/pki/${path}`, undefined, null);
    assert.equal(r.status, 200, path);
    assert.equal(r.text, root.certificate + "\n");
    assert.equal(r.headers.get("content-type"), "application/pem-certificate-chain", path);
  }
  // `ca` is DER, as Vault serves it: the certificate's bytes, not PEM under a DER type.
  const caDer = await getBytes(t, "pki/ca");
  assert.equal(caDer.status, 200);
  assert.equal(caDer.type, "application/pkix-cert");
  assert.deepEqual(caDer.bytes, pemDer(root.certificate));
  assert.equal(new NodeX509(caDer.bytes).subject, "CN=Root");
  assert.equal(
    (await t.req("GET", "/v1/pki/cert/ca", undefined, null)).body.data.certificate,
    root.certificate,
  );
  const crlPem = await t.req("GET", "/v1/pki/crl/pem", undefined, null);
  assert.equal(crlPem.status, 200);
  assert.equal(crlPem.headers.get("content-type"), "application/x-pem-file");
  assert.match(crlPem.text, /^-----BEGIN X509 CRL-----\n/);
  const crlDer = await getBytes(t, "pki/crl");
  assert.equal(crlDer.type, "application/pkix-crl");
  assert.deepEqual(crlDer.bytes, pemDer(crlPem.text));
  const serial = issued.body.data.serial_number;
  const leafPem = issued.body.data.certificate as string;
  assert.equal((await t.req("GET", `/v1/pki/cert/${serial}`, undefined, null)).status, 200);
  const rawDer = await getBytes(t, `pki/cert/${serial}/raw`);
  assert.equal(rawDer.status, 200);
  assert.equal(rawDer.type, "application/pkix-cert");
  assert.deepEqual(rawDer.bytes, pemDer(leafPem));
  assert.equal(new NodeX509(rawDer.bytes).subject, "CN=a.example.com");
  const rawPem = await t.req("GET", `/v1/pki/cert/${serial}/raw/pem`, undefined, null);
  assert.equal(rawPem.text, leafPem + "\n");
  assert.equal(rawPem.headers.get("content-type"), "application/pem-certificate-chain");
  assert.equal((await getBytes(t, "pki/cert/01:02:03/raw")).status, 404);
});

pkiTest(
  "root generation: exported returns the key once, internal never; one CA per mount",
  async (t) => {
    await mount(t, "pki");
    await mount(t, "pki2");
    const internal =
      (await call(t, "POST", "pki/root/generate/internal", { common_name: "Internal Root" })).data;
    assert.equal(internal.private_key, undefined);
    assert.equal(internal.private_key_type, undefined);
    assert.equal(internal.issuing_ca, internal.certificate);
    assert.match(internal.serial_number, /^[0-9a-f]{2}(:[0-9a-f]{2}){15}$/);
    const cert = new NodeX509(internal.certificate);
    assert.equal(cert.ca, true);
    assert.equal(cert.subject, "CN=Internal Root");
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
    const again = await t.req("POST", "/v1/pki/root/generate/internal", { common_name: "Second" });
    assert.equal(again.status, 400);
    assert.match(again.body.errors[0], /already has a CA/);

    const exported = (await call(t, "POST", "pki2/root/generate/exported", {
      common_name: "Exported Root",
      key_type: "rsa",
      key_bits: 2048,
    })).data;
    assert.equal(exported.private_key_type, "rsa");
    assert.match(exported.private_key, /^-----BEGIN RSA PRIVATE KEY-----/);
    assert.ok(
      new NodeX509(exported.certificate).checkPrivateKey(createPrivateKey(exported.private_key)),
    );
    // Nothing else ever hands the key out again.
    for (const path of ["cert/ca", "ca_chain", "cert/ca_chain"]) {
      const r = await t.req("GET", `/v1/pki2/${path}`);
      assert.ok(!r.text.includes("PRIVATE KEY"), path);
    }

    // DELETE root (sudo) frees the mount for a new CA.
    await call(t, "DELETE", "pki/root", undefined, 204);
    assert.equal((await t.req("GET", "/v1/pki/ca/pem", undefined, null)).status, 404);
    await call(t, "POST", "pki/root/generate/internal", { common_name: "Replacement" });
    const bad = await t.req("POST", "/v1/pki/root/generate/kms", { common_name: "x" });
    assert.equal(bad.status, 400);
  },
);

pkiTest("key types: ec 256/384, ed25519 and rsa 2048 CAs and leaves all verify", async (t) => {
  const kinds = [
    { key_type: "ec", key_bits: 256, node: "ec" },
    { key_type: "ec", key_bits: 384, node: "ec" },
    { key_type: "ed25519", key_bits: 0, node: "ed25519" },
    { key_type: "rsa", key_bits: 2048, node: "rsa" },
  ];
  for (const [i, ca] of kinds.entries()) {
    const m = `pki${i}`;
    await mount(t, m);
    const root = (await call(t, "POST", `${m}/root/generate/internal`, {
      common_name: `Root ${ca.key_type}`,
      key_type: ca.key_type,
      key_bits: ca.key_bits,
    })).data.certificate;
    for (const leaf of kinds) {
      const name = `${leaf.key_type}${leaf.key_bits}`;
      await role(t, m, name, {
        allowed_domains: "example.com",
        allow_subdomains: true,
        key_type: leaf.key_type,
        key_bits: leaf.key_bits,
      });
      const issued =
        (await call(t, "POST", `${m}/issue/${name}`, { common_name: "a.example.com" })).data;
      assert.equal(issued.private_key_type, leaf.key_type);
      const pub = new NodeX509(issued.certificate).publicKey;
      assert.equal(pub.asymmetricKeyType, leaf.node);
      const v = await opensslVerify({ root, leaf: issued.certificate, purpose: "sslserver" });
      assert.ok(v.ok, `${m} ${name}: ${v.out}`);
    }
    // The CRL is signed with each key type too.
    const crl = new x509.X509Crl((await t.req("GET", `/v1/${m}/crl/pem`, undefined, null)).text);
    assert.ok(await crl.verify({ publicKey: new x509.X509Certificate(root).publicKey }));
  }
  // A role's key type binds sign/ as well.
  await role(t, "pki0", "rsaonly", { allow_any_name: true, key_type: "rsa" });
  const csr = await makeCsr("CN=x.example.com");
  const r = await t.req("POST", "/v1/pki0/sign/rsaonly", { csr: csr.pem });
  assert.equal(r.status, 400);
  assert.equal(r.body.errors[0], "role requires keys of type rsa");
});

pkiTest("tidy removes expired certificates and their revocation entries", async (t) => {
  await mount(t, "pki");
  await call(t, "POST", "pki/root/generate/internal", { common_name: "Root" });
  await role(t, "pki", "web", { allowed_domains: "example.com", allow_subdomains: true });
  const short =
    (await call(t, "POST", "pki/issue/web", { common_name: "a.example.com", ttl: "2s" })).data;
  const revokedShort =
    (await call(t, "POST", "pki/issue/web", { common_name: "b.example.com", ttl: "2s" }))
      .data;
  const long =
    (await call(t, "POST", "pki/issue/web", { common_name: "c.example.com", ttl: "1h" })).data;
  await call(t, "POST", "pki/revoke", { serial_number: revokedShort.serial_number });
  await new Promise((r) => setTimeout(r, 3500));

  const r = await call(t, "POST", "pki/tidy", {
    tidy_cert_store: true,
    tidy_revoked_certs: true,
    safety_buffer: "1s",
  }, 202);
  assert.equal(r.data, null);
  assert.match(r.warnings[0], /removed 2 expired certificates and 1 revocation entries/);
  const keys = (await call(t, "LIST", "pki/certs")).data.keys;
  assert.ok(keys.includes(long.serial_number.replaceAll(":", "-")));
  assert.ok(!keys.includes(short.serial_number.replaceAll(":", "-")));
  assert.equal((await t.req("GET", `/v1/pki/cert/${short.serial_number}`)).status, 404);
  assert.equal((await t.req("LIST", "/v1/pki/certs/revoked")).status, 404);
  const crl = new x509.X509Crl((await t.req("GET", "/v1/pki/crl/pem", undefined, null)).text);
  assert.equal(crl.entries.length, 0);
  const status = (await call(t, "GET", "pki/tidy-status")).data;
  assert.equal(status.cert_store_deleted_count, 2);
  assert.equal(status.revoked_cert_deleted_count, 1);
});

pkiTest("an intermediate signed by an external root chains to it", async (t) => {
  await mount(t, "pki_int");
  const alg = { name: "ECDSA", namedCurve: "P-384", hash: "SHA-384" };
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]) as CryptoKeyPair;
  const ext = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=External Root",
    keys,
    signingAlgorithm: alg,
    notAfter: new Date(Date.now() + 86400_000 * 30),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const csrPem = (await call(t, "POST", "pki_int/ca/intermediate/generate", {
    common_name: "Int via external",
    type: "internal",
  })).data.csr;
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  const int = await x509.X509CertificateGenerator.create({
    subject: csr.subjectName,
    issuer: ext.subjectName,
    publicKey: csr.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: alg,
    notAfter: new Date(Date.now() + 86400_000 * 10),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
      await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
    ],
  });
  // A certificate for another key is refused; the bundle order does not matter.
  const foreign = await t.req("POST", "/v1/pki_int/intermediate/set-signed", {
    certificate: ext.toString("pem"),
  });
  assert.equal(foreign.status, 400);
  const set = (await call(t, "POST", "pki_int/intermediate/set-signed", {
    certificate: `${ext.toString("pem")}\n${int.toString("pem")}`,
  })).data;
  assert.equal(set.imported_issuers.length, 1);

  await role(t, "pki_int", "web", { allowed_domains: "example.com", allow_subdomains: true });
  const leaf =
    (await call(t, "POST", "pki_int/issue", { role: "web", common_name: "x.example.com" })).data;
  assert.deepEqual(leaf.ca_chain, [int.toString("pem"), ext.toString("pem")]);
  const v = await opensslVerify({
    root: ext.toString("pem"),
    untrusted: [int.toString("pem")],
    leaf: leaf.certificate,
    purpose: "sslserver",
  });
  assert.ok(v.ok, v.out);
  // The external root gave the intermediate pathLen 0: it cannot sign another CA.
  const sub = await makeCsr("CN=sub");
  const r = await t.req("POST", "/v1/pki_int/root/sign-intermediate", {
    csr: sub.pem,
    common_name: "sub",
  });
  assert.equal(r.status, 400);
});

pkiTest("SecretHub routes map onto the Vault paths", async (t) => {
  await mount(t, "pki");
  const root =
    (await call(t, "POST", "pki/ca/root/generate", { common_name: "Root", type: "exported" })).data;
  assert.match(root.private_key, /PRIVATE KEY/);
  await role(t, "pki", "web", { allowed_domains: "example.com", allow_subdomains: true });
  const issued =
    (await call(t, "POST", "pki/issue", { role: "web", common_name: "a.example.com" })).data;
  assert.ok(issued.private_key);
  const csr = await makeCsr("CN=b.example.com");
  const signed = (await call(t, "POST", "pki/sign-request", { role: "web", csr: csr.pem })).data;
  assert.equal(signed.private_key, undefined);
  const missingRole = await t.req("POST", "/v1/pki/issue", { common_name: "a.example.com" });
  assert.equal(missingRole.status, 400);

  const list = (await call(t, "GET", "pki/certificates")).data.keys;
  assert.equal(list.length, 3);
  const one = (await call(t, "GET", `pki/certificates/${issued.serial_number}`)).data;
  assert.equal(one.certificate, issued.certificate);
  assert.equal(one.revoked, false);
  await call(t, "POST", `pki/certificates/${issued.serial_number}/revoke`);
  assert.equal(
    (await call(t, "GET", `pki/certificates/${signed.serial_number}`)).data.revoked,
    false,
  );
  assert.equal(
    (await call(t, "GET", `pki/certificates/${issued.serial_number}`)).data.revoked,
    true,
  );
});

pkiTest("roles: write, read in seconds, list, patch, delete", async (t) => {
  await mount(t, "pki");
  await role(t, "pki", "web", { allowed_domains: "example.com", ttl: "1h", max_ttl: "24h" });
  const read = (await call(t, "GET", "pki/roles/web")).data;
  assert.equal(read.ttl, 3600);
  assert.equal(read.max_ttl, 86400);
  assert.equal(read.key_type, "ec");
  assert.equal(read.key_bits, 256);
  assert.equal(read.allow_localhost, true);
  assert.equal(read.enforce_hostnames, true);
  assert.deepEqual(read.key_usage, ["DigitalSignature", "KeyAgreement", "KeyEncipherment"]);
  const bad = await t.req("POST", "/v1/pki/roles/bad", { ttl: "2h", max_ttl: "1h" });
  assert.equal(bad.status, 400);
  const badBits = await t.req("POST", "/v1/pki/roles/bad", { key_type: "ec", key_bits: 521 });
  assert.equal(badBits.status, 400);
  const badType = await t.req("POST", "/v1/pki/roles/bad", { key_type: "dsa" });
  assert.equal(badType.status, 400);
  await role(t, "pki", "api", { allow_any_name: true });
  assert.deepEqual((await call(t, "LIST", "pki/roles")).data.keys, ["api", "web"]);
  const patched = await t.req("PATCH", "/v1/pki/roles/web", { key_type: "rsa" });
  assert.equal(patched.status, 200, patched.text);
  const after = (await call(t, "GET", "pki/roles/web")).data;
  assert.equal(after.key_bits, 2048);
  assert.equal(after.ttl, 3600);
  await call(t, "DELETE", "pki/roles/web", undefined, 204);
  assert.equal((await t.req("GET", "/v1/pki/roles/web")).status, 404);
});

/** One HTTPS request; resolves with the status, rejects when the handshake fails. */
function httpsGet(port: number, tls: { key?: string; cert?: string; ca: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: "127.0.0.1", port, path: "/", method: "GET", agent: false, ...tls },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

pkiTest(
  "a real mTLS handshake accepts an issued client cert and rejects a self-signed one",
  async (t) => {
    const { root, int } = await rootAndIntermediate(t);
    await role(t, "pki_int", "server", {
      allowed_domains: "localhost",
      allow_bare_domains: true,
      client_flag: false,
    });
    await role(t, "pki_int", "client", {
      allowed_domains: "example.com",
      allow_subdomains: true,
      server_flag: false,
    });
    const server = (await call(t, "POST", "pki_int/issue/server", {
      common_name: "localhost",
      ip_sans: "127.0.0.1",
    })).data;
    const client =
      (await call(t, "POST", "pki_int/issue/client", { common_name: "agent.example.com" })).data;

    const seen: string[] = [];
    const srv = https.createServer({
      key: server.private_key,
      cert: `${server.certificate}\n${int}`,
      ca: [root],
      requestCert: true,
      rejectUnauthorized: true,
    }, (req, res) => {
      // deno-lint-ignore no-explicit-any
      const peer = (req.socket as any).getPeerCertificate?.();
      seen.push(peer?.subject?.CN ?? "");
      res.end("ok");
    });
    await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
    try {
      const port = (srv.address() as AddressInfo).port;
      const status = await httpsGet(port, {
        key: client.private_key,
        cert: `${client.certificate}\n${int}`,
        ca: root,
      });
      assert.equal(status, 200);

      const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
      const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]) as CryptoKeyPair;
      const rogue = await x509.X509CertificateGenerator.createSelfSigned({
        name: "CN=agent.example.com",
        keys,
        signingAlgorithm: alg,
        extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
      });
      const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
      const rogueKey =
        `-----BEGIN PRIVATE KEY-----\n${pkcs8.toBase64()}\n-----END PRIVATE KEY-----\n`;
      await assert.rejects(
        httpsGet(port, { key: rogueKey, cert: rogue.toString("pem"), ca: root }),
      );
      // A server-only certificate is not a client certificate either.
      await assert.rejects(
        httpsGet(port, {
          key: server.private_key,
          cert: `${server.certificate}\n${int}`,
          ca: root,
        }),
      );
      assert.deepEqual(seen, ["agent.example.com"]);
    } finally {
      await new Promise((resolve) => srv.close(resolve));
    }
  },
);

pkiTest("the CA key is stored only encrypted and survives seal and unseal", async (t) => {
  await mount(t, "pki");
  // Exported, so the test knows the private scalar it must never find on disk.
  const root = (await call(t, "POST", "pki/root/generate/exported", { common_name: "Root" })).data;
  const d = Uint8Array.fromBase64(
    createPrivateKey(root.private_key).export({ format: "jwk" }).d!,
    { alphabet: "base64url" },
  );
  await role(t, "pki", "web", { allowed_domains: "example.com", allow_subdomains: true });
  await call(t, "POST", "pki/issue/web", { common_name: "a.example.com" });

  await call(t, "PUT", "sys/seal", undefined, 204);
  assert.equal(
    (await t.req("POST", "/v1/pki/issue/web", { common_name: "a.example.com" })).status,
    503,
  );
  await call(t, "PUT", "sys/unseal", { key: t.unsealKeys[0] });
  const after = (await call(t, "POST", "pki/issue/web", { common_name: "b.example.com" })).data;
  assert.equal(after.issuing_ca, root.certificate);
  assert.ok((await opensslVerify({ root: root.certificate, leaf: after.certificate })).ok);

  for (const f of [t.dbFile, `${t.dbFile}-wal`]) {
    const bytes = await Deno.readFile(f).catch(() => new Uint8Array());
    assert.ok(!Buffer.from(bytes).includes(Buffer.from(d)), `private key bytes found in ${f}`);
    assert.ok(!Buffer.from(bytes).includes(Buffer.from("PRIVATE KEY")), f);
  }
});

/** Hours from now until the certificate's notAfter. */
function hoursLeft(pem: string): number {
  return (Date.parse(new NodeX509(pem).validTo) - Date.now()) / 3600_000;
}

function assertHours(pem: string, want: number): void {
  const got = hoursLeft(pem);
  assert.ok(Math.abs(got - want) < 0.02, `lifetime ${got}h, want ${want}h`);
}

pkiTest(
  "certificates follow the mount's tuned default and max lease TTL, as in Vault",
  async (t) => {
    await mount(t, "pki");
    // Untuned, a root's ttl is capped at the system max (768h), with a warning.
    const capped = await call(t, "POST", "pki/root/generate/internal", {
      common_name: "Capped",
      ttl: "87600h",
    });
    assertHours(capped.data.certificate, 768);
    assert.match(capped.warnings[0], /max_ttl/);
    await call(t, "DELETE", "pki/root", undefined, 204);
    await call(t, "POST", "sys/mounts/pki/tune", { max_lease_ttl: "87600h" }, 204);
    const root = await call(t, "POST", "pki/root/generate/internal", {
      common_name: "Root",
      ttl: "87600h",
    });
    assertHours(root.data.certificate, 87600);
    await role(t, "pki", "web", { allowed_domains: "example.com", allow_subdomains: true });

    // Tuned down: a role without ttl/max_ttl takes the mount's values, no remount needed.
    await call(t, "POST", "sys/mounts/pki/tune", {
      max_lease_ttl: "1h",
      default_lease_ttl: "30m",
    }, 204);
    const asked = await call(t, "POST", "pki/issue/web", {
      common_name: "a.example.com",
      ttl: "700h",
    });
    assertHours(asked.data.certificate, 1);
    assert.match(asked.warnings[0], /max_ttl of 3600s/);
    const dflt = (await call(t, "POST", "pki/issue/web", { common_name: "a.example.com" })).data;
    assertHours(dflt.certificate, 0.5);
    const csr = await makeCsr("CN=b.example.com");
    assertHours((await call(t, "POST", "pki/sign/web", { csr: csr.pem })).data.certificate, 0.5);
    const verbatim = await call(t, "POST", "pki/sign-verbatim", { csr: csr.pem, ttl: "700h" });
    assertHours(verbatim.data.certificate, 1);
    await mount(t, "pki_int");
    const sub = (await call(t, "POST", "pki_int/intermediate/generate/internal", {
      common_name: "Int",
    })).data.csr;
    const int = await call(t, "POST", "pki/root/sign-intermediate", { csr: sub, ttl: "700h" });
    assertHours(int.data.certificate, 1);

    // Tuned up: the role's missing max_ttl no longer means 768h.
    await call(t, "POST", "sys/mounts/pki/tune", { max_lease_ttl: "87600h" }, 204);
    const year = await call(t, "POST", "pki/issue/web", {
      common_name: "a.example.com",
      ttl: "8760h",
    });
    assertHours(year.data.certificate, 8760);
    assert.ok(!year.warnings?.length, JSON.stringify(year.warnings));
    const intDefault = await call(t, "POST", "pki/root/sign-intermediate", { csr: sub });
    assertHours(intDefault.data.certificate, 0.5);
  },
);

pkiTest(
  "a lifetime past the CA's expiry is refused unless the role truncates or permits",
  async (t) => {
    await mount(t, "pki");
    const root = (await call(t, "POST", "pki/root/generate/internal", {
      common_name: "Root",
      ttl: "2h",
    })).data.certificate;
    const caEnd = Date.parse(new NodeX509(root).validTo);
    const domains = { allowed_domains: "example.com", allow_subdomains: true };
    // Written without the helper, which sets truncate: the default is Vault's "err".
    await call(t, "POST", "pki/roles/strict", domains, 204);
    assert.equal((await call(t, "GET", "pki/roles/strict")).data.leaf_not_after_behavior, "err");
    const want = new RegExp(
      "^cannot satisfy request, as TTL would result in notAfter of \\S+ that is beyond the " +
        `expiration of the CA certificate at ${
          new Date(caEnd).toISOString().replace(".000Z", "Z")
        }$`,
    );
    const csr = await makeCsr("CN=a.example.com");
    for (
      const [path, body] of [
        ["issue/strict", { common_name: "a.example.com", ttl: "3h" }],
        ["sign/strict", { csr: csr.pem, ttl: "3h" }],
        ["sign-verbatim", { csr: csr.pem, ttl: "3h" }],
        ["issue/strict", { common_name: "a.example.com", not_after: new Date(caEnd + 60_000) }],
      ] as const
    ) {
      const r = await t.req("POST", `/v1/pki/${path}`, body);
      assert.equal(r.status, 400, `${path}: ${r.text}`);
      assert.match(r.body.errors[0], want);
    }
    assertHours(
      (await call(t, "POST", "pki/issue/strict", { common_name: "a.example.com", ttl: "1h" }))
        .data.certificate,
      1,
    );

    await call(t, "PATCH", "pki/roles/strict", { leaf_not_after_behavior: "truncate" });
    const cut = await call(t, "POST", "pki/issue/strict", {
      common_name: "a.example.com",
      ttl: "3h",
    });
    assert.equal(Date.parse(new NodeX509(cut.data.certificate).validTo), caEnd);
    assert.match(cut.warnings[0], /truncated/);

    await role(t, "pki", "permit", { ...domains, leaf_not_after_behavior: "permit" });
    const past =
      (await call(t, "POST", "pki/issue/permit", { common_name: "a.example.com", ttl: "3h" }))
        .data.certificate;
    assertHours(past, 3);

    const bad = await t.req("POST", "/v1/pki/roles/bad", { leaf_not_after_behavior: "extend" });
    assert.equal(bad.status, 400);
    assert.match(bad.body.errors[0], /leaf_not_after_behavior/);
  },
);

pkiTest("a DNS label over 63 characters is refused under enforce_hostnames", async (t) => {
  await mount(t, "pki");
  await call(t, "POST", "pki/root/generate/internal", { common_name: "Root" });
  await role(t, "pki", "web", { allowed_domains: "example.com", allow_subdomains: true });
  const long = `${"a".repeat(70)}.example.com`;
  const cn = await t.req("POST", "/v1/pki/issue/web", { common_name: long, ttl: "1h" });
  assert.equal(cn.status, 400, cn.text);
  assert.equal(cn.body.errors[0], `common name ${long} not allowed by this role`);
  const san = await t.req("POST", "/v1/pki/issue/web", {
    common_name: "ok.example.com",
    alt_names: [long],
    ttl: "1h",
  });
  assert.equal(san.status, 400, san.text);
  assert.equal(san.body.errors[0], `subject alternative name ${long} not allowed by this role`);
  // 63 is the limit, and it is still fine.
  await call(t, "POST", "pki/issue/web", {
    common_name: `${"a".repeat(63)}.example.com`,
    ttl: "1h",
  });
  // Vault checks lengths only with enforce_hostnames.
  await role(t, "pki", "loose", {
    allowed_domains: "example.com",
    allow_subdomains: true,
    enforce_hostnames: false,
  });
  await call(t, "POST", "pki/issue/loose", { common_name: long, ttl: "1h" });
});
