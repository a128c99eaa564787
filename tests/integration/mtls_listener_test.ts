/**
 * The mTLS listener with real TLS handshakes (Deno's HTTP client with a client certificate):
 * which certificates get through the handshake, and that every request re-checks revocation and
 * the app's status, so a change after the connection opened takes effect at once.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { serveMtls } from "../../core/identity/mtls_listener.ts";
import { startTestCore, type TestCore } from "../helpers/test_core.ts";
import { call, clientKey, issueApp, mtlsFetch, registerApp } from "./identity_fixtures.ts";

async function withListener(
  fn: (t: TestCore, url: string, ca: string) => Promise<void>,
): Promise<void> {
  const t = await startTestCore();
  const srv = await serveMtls(t.core, { address: "127.0.0.1:0" });
  try {
    await fn(t, srv.url, srv.caPem);
  } finally {
    await srv.close();
    await t.close();
  }
}

/** A self-signed certificate for the given key, made with openssl. */
async function selfSigned(keyPem: string): Promise<string> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/k.pem`, keyPem);
    const out = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-new",
        "-key",
        `${dir}/k.pem`,
        "-subj",
        "/CN=rogue",
        "-days",
        "1",
        "-addext",
        "subjectAltName=URI:urn:secrethub:app:rogue",
        "-addext",
        "extendedKeyUsage=clientAuth",
        "-out",
        `${dir}/c.pem`,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return await Deno.readTextFile(`${dir}/c.pem`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("mtls: an issued app certificate is accepted and the request runs through the pipeline", () =>
  withListener(async (t, url, ca) => {
    const id = await registerApp(t, "web");
    const c = await issueApp(t, id);
    const r = await mtlsFetch(`${url}/v1/pki/app/ca`, { ca, cert: c.cert, key: c.keyPem });
    assert.equal(r.status, 200);
    // Authenticated routes still need a token: the certificate is identity, not authorization.
    const s = await mtlsFetch(`${url}/v1/apps/${id}`, { ca, cert: c.cert, key: c.keyPem });
    assert.equal(s.status, 403);
    const ok = await mtlsFetch(`${url}/v1/apps/${id}`, { ca, cert: c.cert, key: c.keyPem }, {
      headers: { "x-vault-token": t.rootToken },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.data.name, "web");
    // The server certificate is the identity CA's, for the listen address.
    assert.match(new X509Certificate(ca).subject, /SecretHub Identity CA/);
  }));

Deno.test("mtls: no client certificate, or a self-signed one, fails the handshake", () =>
  withListener(async (t, url, ca) => {
    await assert.rejects(mtlsFetch(`${url}/v1/pki/app/ca`, { ca }));
    const k = await clientKey();
    const rogue = await selfSigned(k.keyPem);
    await assert.rejects(mtlsFetch(`${url}/v1/pki/app/ca`, { ca, cert: rogue, key: k.keyPem }));
    void t;
  }));

Deno.test("mtls: suspending the app, or revoking the certificate, refuses the next request with 403", () =>
  withListener(async (t, url, ca) => {
    const id = await registerApp(t, "web");
    const c = await issueApp(t, id);
    const tls = { ca, cert: c.cert, key: c.keyPem };
    assert.equal((await mtlsFetch(`${url}/v1/pki/app/ca`, tls)).status, 200);
    await call(t, "POST", `apps/${id}/suspend`, {});
    assert.equal((await mtlsFetch(`${url}/v1/pki/app/ca`, tls)).status, 403);
    await call(t, "POST", `apps/${id}/activate`, {});
    assert.equal((await mtlsFetch(`${url}/v1/pki/app/ca`, tls)).status, 200);

    await call(t, "POST", "pki/app/revoke", { serial_number: c.serial });
    assert.equal((await mtlsFetch(`${url}/v1/pki/app/ca`, tls)).status, 403);
  }));

Deno.test("mtls: one connection, then the app is suspended: the same client is refused at once", () =>
  withListener(async (t, url, ca) => {
    const id = await registerApp(t, "web");
    const c = await issueApp(t, id);
    const client = Deno.createHttpClient({ caCerts: [ca], cert: c.cert, key: c.keyPem });
    try {
      const first = await fetch(`${url}/v1/pki/app/ca`, { client });
      await first.body?.cancel();
      assert.equal(first.status, 200);
      await call(t, "POST", `apps/${id}/suspend`, {});
      const second = await fetch(`${url}/v1/pki/app/ca`, { client });
      await second.body?.cancel();
      assert.equal(second.status, 403);
    } finally {
      client.close();
    }
  }));

Deno.test("mtls: renew with the peer certificate as proof; the key may rotate; revoke_old retires the old one", () =>
  withListener(async (t, url, ca) => {
    const id = await registerApp(t, "web");
    const c = await issueApp(t, id);
    const next = await clientKey({ alg: "p384", uri: "urn:secrethub:app:someone-else" });
    const r = await mtlsFetch(`${url}/v1/pki/app/renew`, { ca, cert: c.cert, key: c.keyPem }, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ csr: next.csrPem, revoke_old: true }),
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(
      new X509Certificate(r.body.data.certificate).subjectAltName,
      `URI:urn:secrethub:app:${id}`,
    );
    assert.notEqual(r.body.data.serial_number, c.serial);
    // Old one revoked, new one (with the rotated key) works.
    assert.equal(
      (await mtlsFetch(`${url}/v1/pki/app/ca`, { ca, cert: c.cert, key: c.keyPem })).status,
      403,
    );
    const nt = { ca, cert: r.body.data.certificate, key: next.keyPem };
    assert.equal((await mtlsFetch(`${url}/v1/pki/app/ca`, nt)).status, 200);
    const certs = (await call(t, "GET", `apps/${id}/certificates`)).data;
    assert.equal(certs.key_info[c.serial].revoked, true);
    assert.equal(certs.key_info[r.body.data.serial_number].revoked, false);
    // An app certificate is no proof for an agent renewal.
    const asAgent = await mtlsFetch(`${url}/v1/pki/agent/renew`, nt, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ csr: next.csrPem }),
    });
    assert.equal(asAgent.status, 403);
  }));
