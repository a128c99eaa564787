/**
 * Identity certificates through the real core: bootstrap-token issuance (single use under
 * concurrency, expiry, bad CSRs), what the certificate carries (the core's URI SAN, never the
 * CSR's; a chain OpenSSL accepts for sslclient), revocation through an ACL-checked path, audit
 * never holding the bootstrap token in clear, and agent certificates bound to their token source.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
import { withTestCore } from "../helpers/test_core.ts";
import {
  bootstrapToken,
  call,
  clientKey,
  issueApp,
  opensslVerify,
  registerApp,
  tamperedCsr,
} from "./identity_fixtures.ts";

const withCore = withTestCore;

Deno.test("pki/app/issue: a bootstrap token used twice concurrently issues exactly one certificate", () =>
  withCore(async (t) => {
    const id = await registerApp(t, "web");
    const token = await bootstrapToken(t, id);
    const [a, b] = await Promise.all([clientKey(), clientKey()]);
    const rs = await Promise.all(
      [a, b].map((k) =>
        t.req("POST", "/v1/pki/app/issue", { bootstrap_token: token, csr: k.csrPem }, null)
      ),
    );
    assert.deepEqual(rs.map((r) => r.status).sort(), [200, 403]);
    // And it is spent for good.
    const again = await t.req("POST", "/v1/pki/app/issue", {
      bootstrap_token: token,
      csr: a.csrPem,
    }, null);
    assert.equal(again.status, 403);
    const certs = (await call(t, "LIST", `apps/${id}/certificates`)).data;
    assert.equal(certs.keys.length, 1);
  }));

Deno.test("pki/app/issue: an expired bootstrap token is refused (injected clock)", async () => {
  let offset = 0;
  await withCore(async (t) => {
    const id = await registerApp(t, "web");
    const token = await bootstrapToken(t, id, "10m");
    offset = 11 * 60_000;
    const k = await clientKey();
    const r = await t.req(
      "POST",
      "/v1/pki/app/issue",
      { bootstrap_token: token, csr: k.csrPem },
      null,
    );
    assert.equal(r.status, 403);
    offset = 0;
    // A fresh one, used in time, works.
    const ok = await bootstrapToken(t, id, "10m");
    await call(t, "POST", "pki/app/issue", { bootstrap_token: ok, csr: k.csrPem }, 200, null);
  }, { now: () => Date.now() + offset });
});

Deno.test("pki/app/issue: a CSR with a bad signature is 400 and does not spend the token; unknown token 403", () =>
  withCore(async (t) => {
    const id = await registerApp(t, "web");
    const token = await bootstrapToken(t, id);
    const k = await clientKey();
    const bad = await t.req("POST", "/v1/pki/app/issue", {
      bootstrap_token: token,
      csr: tamperedCsr(k.csrPem),
    }, null);
    assert.equal(bad.status, 400);
    assert.match(bad.body.errors[0], /signature/);
    const junk = await t.req(
      "POST",
      "/v1/pki/app/issue",
      { bootstrap_token: token, csr: "nope" },
      null,
    );
    assert.equal(junk.status, 400);
    const missing = await t.req("POST", "/v1/pki/app/issue", { csr: k.csrPem }, null);
    assert.equal(missing.status, 400);
    assert.match(missing.body.errors[0], /bootstrap_token/);
    const unknown = await t.req("POST", "/v1/pki/app/issue", {
      bootstrap_token: "sbt.nope",
      csr: k.csrPem,
    }, null);
    assert.equal(unknown.status, 403);
    await call(t, "POST", "pki/app/issue", { bootstrap_token: token, csr: k.csrPem }, 200, null);
  }));

Deno.test("pki/app/issue: the URI SAN is the app's own even when the CSR asks for another; chain verifies for sslclient", () =>
  withCore(async (t) => {
    const victim = await registerApp(t, "victim");
    const id = await registerApp(t, "web");
    const k = await clientKey({ uri: `urn:secrethub:app:${victim}`, cn: "victim" });
    const token = await bootstrapToken(t, id);
    const d =
      (await call(t, "POST", "pki/app/issue", { bootstrap_token: token, csr: k.csrPem }, 200, null))
        .data;
    const x = new X509Certificate(d.certificate);
    assert.equal(x.subjectAltName, `URI:urn:secrethub:app:${id}`);
    assert.ok(!x.subject.includes("victim"));
    assert.equal(d.id, id);
    assert.deepEqual(d.ca_chain, [d.issuing_ca]);
    const ca = await t.req("GET", "/v1/pki/app/ca", undefined, null);
    assert.equal(ca.status, 200);
    assert.equal(ca.text.trim(), d.issuing_ca.trim());
    assert.match(new X509Certificate(ca.text).subject, /SecretHub Identity CA/);
    assert.ok((await opensslVerify(ca.text, d.certificate, "sslclient")).ok);
    // Client-only: not a server certificate.
    assert.equal((await opensslVerify(ca.text, d.certificate, "sslserver")).ok, false);
    const listed = (await call(t, "GET", `apps/${id}/certificates`)).data;
    assert.deepEqual(listed.keys, [d.serial_number]);
    assert.equal(listed.key_info[d.serial_number].revoked, false);
  }));

Deno.test("pki/app/issue: RSA and Ed25519 CSRs are signed too", () =>
  withCore(async (t) => {
    const id = await registerApp(t, "web");
    for (const alg of ["rsa", "ed25519", "p384"] as const) {
      const c = await issueApp(t, id, alg);
      assert.equal(new X509Certificate(c.cert).subjectAltName, `URI:urn:secrethub:app:${id}`);
    }
  }));

Deno.test("pki/app/revoke: needs a token with the ACL; marks the app's certificate revoked", () =>
  withCore(async (t) => {
    const id = await registerApp(t, "web");
    const c = await issueApp(t, id);
    assert.equal(
      (await t.req("POST", "/v1/pki/app/revoke", { serial_number: c.serial }, null)).status,
      403,
    );
    const plain = (await call(t, "POST", "auth/token/create", { policies: ["default"] })).auth
      .client_token;
    assert.equal(
      (await t.req("POST", "/v1/pki/app/revoke", { serial_number: c.serial }, plain)).status,
      403,
    );
    await call(t, "POST", "pki/app/revoke", { serial_number: c.serial });
    const listed = (await call(t, "GET", `apps/${id}/certificates`)).data;
    assert.equal(listed.key_info[c.serial].revoked, true);
    assert.equal(await t.core.identity!.pki.isRevoked(c.serial), true);
    assert.equal(await t.core.identity!.pki.verifyPeer(c.cert), null);
    const unknown = await t.req("POST", "/v1/pki/app/revoke", { serial_number: "01:02" });
    assert.equal(unknown.status, 400);
  }));

Deno.test("pki/app/issue: the bootstrap token and CSR never reach the audit log or the database in clear", () =>
  withCore(async (t) => {
    const id = await registerApp(t, "web");
    const token = await bootstrapToken(t, id);
    const k = await clientKey();
    await call(t, "POST", "pki/app/issue", { bootstrap_token: token, csr: k.csrPem }, 200, null);
    const rows = JSON.stringify([...t.core.physical.auditRows()]);
    const issueRow = [...t.core.physical.auditRows()].find((r) =>
      r.entry.path === "pki/app/issue" && r.entry.type === "request"
    );
    assert.ok(issueRow, "the unauthenticated issue request is audited");
    await call(
      t,
      "PUT",
      "sys/audit/x",
      { type: "file", options: { file_path: `${t.dir}/x.log` } },
      204,
    );
    const h = await call(t, "PUT", "sys/audit-hash/x", { input: token });
    assert.equal((issueRow.entry.data as Record<string, string>).bootstrap_token, h.data.hash);
    assert.equal(rows.includes(token), false);
    assert.equal(rows.includes(token.slice(4, 20)), false);
    const csrBody = k.csrPem.split("\n")[1]!;
    assert.equal(rows.includes(csrBody), false);
    for (const f of [t.dbFile, `${t.dbFile}-wal`]) {
      const bytes = await Deno.readFile(f).catch(() => new Uint8Array());
      assert.equal(Buffer.from(bytes).toString("latin1").includes(token.slice(4)), false, f);
    }
  }));

Deno.test("pki/agent/issue: ACL-checked, bound to the token source; sys/agents/:id/revoke revokes its certificates", () =>
  withCore(async (t) => {
    await call(t, "POST", "sys/auth/approle", { type: "approle" }, 204);
    await call(t, "PUT", "sys/policies/acl/agent", {
      policy: `path "pki/agent/issue" { capabilities = ["update"] }`,
    }, 204);
    const login = async (role: string): Promise<string> => {
      await call(t, "POST", `auth/approle/role/${role}`, { token_policies: ["agent"] }, 204);
      const roleId = (await call(t, "GET", `auth/approle/role/${role}/role-id`)).data.role_id;
      const secretId = (await call(t, "POST", `auth/approle/role/${role}/secret-id`, {})).data
        .secret_id;
      return (await call(
        t,
        "POST",
        "auth/approle/login",
        { role_id: roleId, secret_id: secretId },
        200,
        null,
      ))
        .auth.client_token;
    };
    const edge1 = await login("edge1");
    const edge1Again = await login("edge1");
    const edge2 = await login("edge2");
    const plain = (await call(t, "POST", "auth/token/create", { policies: ["default"] })).auth
      .client_token;
    const k = await clientKey({ uri: "urn:secrethub:app:someone" });

    assert.equal(
      (await t.req("POST", "/v1/pki/agent/issue", { agent_id: "a1", csr: k.csrPem }, plain)).status,
      403,
    );
    assert.equal(
      (await t.req("POST", "/v1/pki/agent/issue", { agent_id: "a1", csr: k.csrPem }, null)).status,
      403,
    );
    const d =
      (await call(t, "POST", "pki/agent/issue", { agent_id: "a1", csr: k.csrPem }, 200, edge1))
        .data;
    assert.equal(new X509Certificate(d.certificate).subjectAltName, "URI:urn:secrethub:agent:a1");
    // Same role, new login: same source, allowed. Another role: refused.
    await call(t, "POST", "pki/agent/issue", { agent_id: "a1", csr: k.csrPem }, 200, edge1Again);
    assert.equal(
      (await t.req("POST", "/v1/pki/agent/issue", { agent_id: "a1", csr: k.csrPem }, edge2)).status,
      403,
    );
    const bad = await t.req(
      "POST",
      "/v1/pki/agent/issue",
      { agent_id: "../x", csr: k.csrPem },
      edge1,
    );
    assert.equal(bad.status, 400);

    const ca = await t.req("GET", "/v1/sys/agent/ca", undefined, null);
    assert.equal(ca.status, 200);
    assert.ok((await opensslVerify(ca.text, d.certificate, "sslclient")).ok);
    const who = await t.core.identity!.pki.verifyPeer(d.certificate);
    assert.equal(who?.kind, "agent");
    assert.equal(who?.id, "a1");

    // sudo: a token that only has update on the path is not enough.
    await call(t, "PUT", "sys/policies/acl/agent-admin", {
      policy: `path "sys/agents/*" { capabilities = ["update"] }`,
    }, 204);
    const admin = (await call(t, "POST", "auth/token/create", { policies: ["agent-admin"] })).auth
      .client_token;
    assert.equal((await t.req("POST", "/v1/sys/agents/a1/revoke", {}, admin)).status, 403);
    const rev = (await call(t, "POST", "sys/agents/a1/revoke", {})).data;
    assert.equal(rev.revoked_serials.length, 2);
    assert.equal(await t.core.identity!.pki.verifyPeer(d.certificate), null);
    assert.equal(await t.core.identity!.pki.isRevoked(d.serial_number), true);
    assert.equal(
      (await t.req("POST", "/v1/pki/agent/issue", { agent_id: "a1", csr: k.csrPem }, edge1)).status,
      403,
    );
    assert.equal((await t.req("POST", "/v1/sys/agents/nope/revoke", {})).status, 404);
  }));

Deno.test("identity CA survives seal/unseal: same CA, issued certificates still verify", () =>
  withCore(async (t) => {
    const id = await registerApp(t, "web");
    const c = await issueApp(t, id);
    const before = await t.core.identity!.pki.caPem();
    await call(t, "PUT", "sys/seal", {}, 204);
    assert.equal((await t.req("GET", "/v1/pki/app/ca", undefined, null)).status, 503);
    await call(t, "PUT", "sys/unseal", { key: t.unsealKeys[0] }, 200, null);
    assert.equal(await t.core.identity!.pki.caPem(), before);
    assert.equal((await t.core.identity!.pki.verifyPeer(c.cert))?.id, id);
  }));
