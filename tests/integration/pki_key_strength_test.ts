/**
 * The key-strength floor through the real core: a role with `key_type: "any"` (what the identity
 * PKI uses for app and agent certificates) waives the key type, never the strength. RSA below
 * 2048 bits and curves other than P-256/P-384 are refused on every path that signs a key it did
 * not generate. The CSRs are made by OpenSSL, since WebCrypto cannot make P-224 keys and refuses
 * nothing it is asked to sign.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import assert from "node:assert/strict";
import { type TestCore, withTestCore } from "../helpers/test_core.ts";
import { bootstrapToken, call, registerApp } from "./identity_fixtures.ts";

const OPENSSL = "/usr/bin/openssl";

const withCore = withTestCore;

/** A PEM CSR for a fresh key from `openssl req -newkey <newkey>`, with optional -pkeyopt. */
async function opensslCsr(newkey: string, subject: string, pkeyopt?: string): Promise<string> {
  const args = ["req", "-new", "-newkey", newkey, "-nodes", "-keyout", "/dev/null"];
  if (pkeyopt) args.push("-pkeyopt", pkeyopt);
  args.push("-subj", subject);
  const out = await new Deno.Command(OPENSSL, { args, stdout: "piped", stderr: "piped" }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

const rsaCsr = (bits: number, cn = "a.example.com") => opensslCsr(`rsa:${bits}`, `/CN=${cn}`);
const ecCsr = (curve: string, cn = "a.example.com") =>
  opensslCsr("ec", `/CN=${cn}`, `ec_paramgen_curve:${curve}`);

function keyBits(certPem: string): number {
  const alg = new x509.X509Certificate(certPem).publicKey.algorithm as RsaHashedKeyAlgorithm;
  return alg.modulusLength;
}

async function refused(t: TestCore, path: string, body: Record<string, unknown>, re: RegExp) {
  const r = await t.req("POST", `/v1/${path}`, body);
  assert.equal(r.status, 400, `${path}: ${r.text}`);
  assert.match(r.body.errors[0], re, path);
}

const RSA_1024 = /^RSA keys must be at least 2048 bits \(got 1024\)$/;

Deno.test('pki key strength: an "any" role refuses RSA-1024 and P-224 CSRs, on every signing path', () =>
  withCore(async (t) => {
    await call(t, "POST", "sys/mounts/pki", { type: "pki" }, 204);
    await call(t, "POST", "pki/root/generate/internal", { common_name: "Root" });
    await call(t, "POST", "pki/roles/any", {
      key_type: "any",
      allowed_domains: "example.com",
      allow_subdomains: true,
      // Leaves default to 768h, as the root does: end them with it rather than refuse.
      leaf_not_after_behavior: "truncate",
    }, 204);
    const before = (await call(t, "LIST", "pki/certs")).data.keys;
    const weak = await rsaCsr(1024);
    const p224 = await ecCsr("secp224r1");
    const body = { csr: weak, common_name: "a.example.com" };

    await refused(t, "pki/sign/any", body, RSA_1024);
    await refused(t, "pki/sign-request", { ...body, role: "any" }, RSA_1024);
    // sign-verbatim takes any key type, as in Vault, but not a weak one; nor does a CA.
    await refused(t, "pki/sign-verbatim", body, RSA_1024);
    await refused(t, "pki/sign-verbatim/any", body, RSA_1024);
    await refused(t, "pki/root/sign-intermediate", body, RSA_1024);
    // 512 bits too: the floor is not a list of known-bad sizes.
    await refused(t, "pki/sign/any", { csr: await rsaCsr(512) }, /got 512\)$/);
    // P-224 is named, not reported as a bad signature because WebCrypto cannot verify it.
    for (const path of ["pki/sign/any", "pki/sign-verbatim", "pki/root/sign-intermediate"]) {
      await refused(t, path, { csr: p224, common_name: "a.example.com" }, /curve P-224/);
    }
    // Nothing was signed for them.
    assert.deepEqual((await call(t, "LIST", "pki/certs")).data.keys, before);

    // Strong keys of every type still pass under "any".
    const rsa2048 = (await call(t, "POST", "pki/sign/any", { csr: await rsaCsr(2048) })).data;
    assert.equal(keyBits(rsa2048.certificate), 2048);
    for (
      const csr of [await ecCsr("prime256v1"), await opensslCsr("ed25519", "/CN=a.example.com")]
    ) {
      await call(t, "POST", "pki/sign/any", { csr });
    }
    // Shorter than the root's default 768h: sign-verbatim has no role to truncate with.
    await call(t, "POST", "pki/sign-verbatim", { csr: await rsaCsr(2048), ttl: "1h" });
  }));

Deno.test("pki key strength: typed roles keep their own minimum; key_bits 0 is the type's default", () =>
  withCore(async (t) => {
    await call(t, "POST", "sys/mounts/pki", { type: "pki" }, 204);
    await call(t, "POST", "pki/root/generate/internal", { common_name: "Root" });
    // Leaves default to 768h, as the root does: end them with it rather than refuse.
    const domains = {
      allowed_domains: "example.com",
      allow_subdomains: true,
      leaf_not_after_behavior: "truncate",
    };
    await call(t, "POST", "pki/roles/rsa", { ...domains, key_type: "rsa", key_bits: 0 }, 204);
    await call(t, "POST", "pki/roles/rsa4k", { ...domains, key_type: "rsa", key_bits: 4096 }, 204);
    await call(t, "POST", "pki/roles/ec384", { ...domains, key_type: "ec", key_bits: 384 }, 204);

    assert.equal((await call(t, "GET", "pki/roles/rsa")).data.key_bits, 2048);
    await refused(t, "pki/sign/rsa", { csr: await rsaCsr(1024) }, RSA_1024);
    await call(t, "POST", "pki/sign/rsa", { csr: await rsaCsr(2048) });
    await refused(t, "pki/sign/rsa", { csr: await ecCsr("prime256v1") }, /keys of type rsa$/);
    await refused(t, "pki/sign/rsa4k", { csr: await rsaCsr(2048) }, /minimum of 4096-bit rsa/);
    await refused(t, "pki/sign/ec384", { csr: await ecCsr("prime256v1") }, /minimum of 384-bit ec/);
    await call(t, "POST", "pki/sign/ec384", { csr: await ecCsr("secp384r1") });
  }));

Deno.test("pki key strength: identity certificates (pki/app/issue, pki/agent/issue) refuse RSA-1024", () =>
  withCore(async (t) => {
    const weak = await rsaCsr(1024, "client");
    const id = await registerApp(t, "web");
    const token = await bootstrapToken(t, id);
    const app = await t.req(
      "POST",
      "/v1/pki/app/issue",
      { bootstrap_token: token, csr: weak },
      null,
    );
    assert.equal(app.status, 400, app.text);
    assert.match(app.body.errors[0], RSA_1024);
    const listed = await t.req("GET", `/v1/apps/${id}/certificates`);
    assert.ok(listed.status === 404 || listed.body.data.keys.length === 0, listed.text);

    const agent = await t.req("POST", "/v1/pki/agent/issue", { agent_id: "a1", csr: weak });
    assert.equal(agent.status, 400, agent.text);
    assert.match(agent.body.errors[0], RSA_1024);

    // A weak CSR is refused before the one-time token is spent: the same token still works
    // with a strong key, once.
    const ok = await t.req("POST", "/v1/pki/app/issue", {
      bootstrap_token: token,
      csr: await rsaCsr(2048, "client"),
    }, null);
    assert.equal(ok.status, 200, ok.text);
  }));
