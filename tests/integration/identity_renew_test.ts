/**
 * Renewal without mTLS: a signature by the current certificate's key over the new CSR's hash and a
 * timestamp. Refused for a revoked, foreign or suspended certificate, a wrong key, a stale
 * timestamp, and a replayed proof; OpenSSL's DER ECDSA signatures are accepted like raw ones.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
import { renewMessage } from "../../core/identity/renew_proof.ts";
import { type TestCore, withTestCore } from "../helpers/test_core.ts";
import {
  call,
  type ClientKey,
  clientKey,
  issueApp,
  type IssuedClient,
  registerApp,
  signMessage,
} from "./identity_fixtures.ts";

const withCore = withTestCore;

async function proof(
  c: IssuedClient,
  next: ClientKey,
  o: { signer?: ClientKey; ts?: number } = {},
): Promise<Record<string, unknown>> {
  const timestamp = o.ts ?? Math.floor(Date.now() / 1000);
  const signature = await signMessage(o.signer ?? c, renewMessage(next.csrPem, timestamp));
  return { certificate: c.cert, csr: next.csrPem, timestamp, signature };
}

function renew(t: TestCore, body: Record<string, unknown>, kind = "app") {
  return t.req("POST", `/v1/pki/${kind}/renew`, body, null);
}

Deno.test("pki/app/renew: a key signature proves the current certificate; the proof cannot be replayed", () =>
  withCore(async (t) => {
    const id = await registerApp(t, "web");
    for (const alg of ["p256", "p384", "ed25519", "rsa"] as const) {
      const c = await issueApp(t, id, alg);
      const next = await clientKey();
      const body = await proof(c, next);
      const r = await renew(t, body);
      assert.equal(r.status, 200, `${alg}: ${r.text}`);
      assert.equal(
        new X509Certificate(r.body.data.certificate).subjectAltName,
        `URI:urn:secrethub:app:${id}`,
      );
      // Without revoke_old the old certificate stays valid.
      assert.equal((await t.core.identity!.pki.verifyPeer(c.cert))?.id, id);
      const replay = await renew(t, body);
      assert.equal(replay.status, 403, `${alg} replay`);
    }
    assert.equal((await call(t, "GET", `apps/${id}/certificates`)).data.keys.length, 8);
  }));

Deno.test("pki/app/renew: ECDSA signatures in DER (openssl dgst) are accepted", () =>
  withCore(async (t) => {
    const id = await registerApp(t, "web");
    const c = await issueApp(t, id);
    const next = await clientKey();
    const ts = Math.floor(Date.now() / 1000);
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/k.pem`, c.keyPem);
      await Deno.writeTextFile(`${dir}/m`, renewMessage(next.csrPem, ts));
      const out = await new Deno.Command("openssl", {
        args: ["dgst", "-sha256", "-sign", `${dir}/k.pem`, `${dir}/m`],
        stdout: "piped",
      }).output();
      assert.ok(out.success);
      const r = await renew(t, {
        certificate: c.cert,
        csr: next.csrPem,
        timestamp: ts,
        signature: Buffer.from(out.stdout).toString("base64"),
      });
      assert.equal(r.status, 200, r.text);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }));

Deno.test("pki/app/renew: refused with a revoked, foreign or suspended certificate, a wrong key or a stale timestamp", () =>
  withCore(async (t) => {
    const id = await registerApp(t, "web");
    const c = await issueApp(t, id);
    const next = await clientKey();

    // Signed by a different key than the certificate's.
    const other = await clientKey();
    assert.equal((await renew(t, await proof(c, next, { signer: other }))).status, 403);
    // Outside ±300 s.
    const stale = await proof(c, next, { ts: Math.floor(Date.now() / 1000) - 301 });
    assert.equal((await renew(t, stale)).status, 403);
    // Signature over a different CSR than the one sent.
    const swapped = { ...await proof(c, next), csr: other.csrPem };
    assert.equal((await renew(t, swapped)).status, 403);
    // Missing proof entirely.
    const none = await renew(t, { csr: next.csrPem });
    assert.equal(none.status, 400);

    // A certificate from another CA (a user PKI mount) carrying the same identity URI.
    await call(t, "POST", "sys/mounts/pki", { type: "pki" }, 204);
    await call(t, "POST", "pki/root/generate/internal", { common_name: "Other CA" });
    await call(t, "POST", "pki/roles/any", {
      allow_any_name: true,
      allowed_uri_sans: ["urn:secrethub:*"],
      key_type: "any",
      require_cn: false,
      // The root and the leaf both default to 768h: end the leaf with the root, not refuse it.
      leaf_not_after_behavior: "truncate",
    }, 204);
    const foreignKey = await clientKey();
    const foreign = (await call(t, "POST", "pki/sign/any", {
      csr: foreignKey.csrPem,
      uri_sans: `urn:secrethub:app:${id}`,
    })).data.certificate;
    const fc: IssuedClient = { ...foreignKey, cert: foreign, serial: "", ca: "" };
    assert.equal((await renew(t, await proof(fc, next))).status, 403);

    // Suspended app: refused; active again: accepted.
    await call(t, "POST", `apps/${id}/suspend`, {});
    assert.equal((await renew(t, await proof(c, next))).status, 403);
    await call(t, "POST", `apps/${id}/activate`, {});
    assert.equal(
      (await renew(t, await proof(c, next, { ts: Math.floor(Date.now() / 1000) - 1 }))).status,
      200,
    );

    // Revoked.
    await call(t, "POST", "pki/app/revoke", { serial_number: c.serial });
    assert.equal(
      (await renew(t, await proof(c, next, { ts: Math.floor(Date.now() / 1000) - 2 }))).status,
      403,
    );
    // An app certificate is no proof for an agent renewal.
    const c2 = await issueApp(t, id);
    assert.equal((await renew(t, await proof(c2, next), "agent")).status, 403);
  }));
