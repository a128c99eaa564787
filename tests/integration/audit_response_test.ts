/**
 * What an audited reply records, as Vault's audit log does: the data with every string and
 * number HMAC'd, the auth block with its token and accessor HMAC'd, and a wrapped reply's
 * wrap_info, so sys/audit-hash of a value, a token or a wrapping token finds the reply.
 */
import assert from "node:assert/strict";
import { call, type TestCore, withTestCore } from "../helpers/test_core.ts";
import type { Json } from "../helpers/test_core.ts";

function responsesAt(t: TestCore, path: string): Json[] {
  return [...t.core.physical.auditRows()]
    .map((r) => (r as Json).entry)
    .filter((e) => e.path === path && (e.type === "response" || e.type === "exchange"));
}

const enableFile = (t: TestCore) =>
  call(
    t,
    "POST",
    "sys/audit/file",
    { type: "file", options: { file_path: `${t.dir}/audit.log` } },
    204,
  );

const hash = async (t: TestCore, input: string): Promise<string> =>
  (await call(t, "POST", "sys/audit-hash/file", { input })).data.hash;

Deno.test("audit: a login's and a token create's reply record the issued token and accessor, HMAC'd", async () => {
  await withTestCore(async (t) => {
    await enableFile(t);
    await call(t, "POST", "sys/auth/userpass", { type: "userpass" }, 204);
    await call(t, "POST", "auth/userpass/users/ann", {
      password: "pw-123456789",
      token_policies: "default",
    }, 204);
    const login = await call(
      t,
      "POST",
      "auth/userpass/login/ann",
      { password: "pw-123456789" },
      200,
      null,
    );
    const [rec] = responsesAt(t, "auth/userpass/login/ann");
    assert.equal(rec.response.auth.client_token, await hash(t, login.auth.client_token));
    assert.equal(rec.response.auth.accessor, await hash(t, login.auth.accessor));
    assert.deepEqual(rec.response.auth.policies, ["default"]);
    assert.equal(rec.response.auth.lease_duration, login.auth.lease_duration);

    const created = await call(t, "POST", "auth/token/create", { meta: { team: "ops" } });
    const [c] = responsesAt(t, "auth/token/create");
    assert.equal(c.response.auth.client_token, await hash(t, created.auth.client_token));
    assert.equal(c.response.auth.metadata.team, await hash(t, "ops"));

    // The file device records the same, and neither holds the tokens in the clear.
    const file = await Deno.readTextFile(`${t.dir}/audit.log`);
    assert.ok(file.includes(await hash(t, login.auth.client_token)));
    for (const secret of [login.auth.client_token, created.auth.client_token]) {
      assert.ok(!file.includes(secret));
      assert.ok(!JSON.stringify([...t.core.physical.auditRows()]).includes(secret));
    }
  });
});

Deno.test("audit: a KV read records its reply's HMAC (its values are in the write's record); a wrapped reply records its data and wrap_info", async () => {
  await withTestCore(async (t) => {
    await enableFile(t);
    await call(t, "POST", "secret/data/app", { data: { pin: 4711, user: "svc" } });
    const [write] = [...t.core.physical.auditRows()].map((r) => (r as Json).entry)
      .filter((e) => e.path === "secret/data/app" && e.type === "request");
    assert.equal(write.data.data.pin, await hash(t, "4711"));
    await call(t, "GET", "secret/data/app");
    await call(t, "GET", "secret/data/app");
    const reads = responsesAt(t, "secret/data/app").filter((e) => e.type === "exchange");
    assert.equal(reads.length, 2);
    for (const r of reads) {
      assert.match(r.response_hmac, /^hmac-sha256:[0-9a-f]{64}$/);
      assert.equal(r.response, undefined);
    }
    assert.equal(reads[0].response_hmac, reads[1].response_hmac);

    const wrapped = await t.req("GET", "/v1/secret/data/app", undefined, undefined, {
      "x-vault-wrap-ttl": "60",
    });
    const info = wrapped.body.wrap_info;
    const last = responsesAt(t, "secret/data/app").at(-1);
    assert.equal(last.response.wrap_info.token, await hash(t, info.token));
    assert.equal(last.response.wrap_info.accessor, await hash(t, info.accessor));
    assert.equal(last.response.wrap_info.ttl, 60);
    assert.equal(last.response.data.data.pin, await hash(t, "4711"));
    assert.ok(!JSON.stringify(last).includes(info.token));
    assert.equal((await call(t, "GET", "sys/audit/verify")).data.ok, true);
  });
});
