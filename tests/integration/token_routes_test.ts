/** auth/token/* over real HTTP: TTL caps, meta decoding, use counting, revoke-orphan, accessors. */
import assert from "node:assert/strict";
import { call, startTestCore, type TestCore, withTestCore } from "../helpers/test_core.ts";
import { decodeShare } from "../../core/seal/seal.ts";
import { putJSONOp } from "../../engines/sdk.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function create(
  t: TestCore,
  body: Record<string, unknown>,
  token?: string,
  path = "create",
): Promise<{ client_token: string; accessor: string; lease_duration: number }> {
  const r = await t.req("POST", `/v1/auth/token/${path}`, body, token);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.auth;
}

async function lookupSelf(t: TestCore, token: string) {
  return await t.req("GET", "/v1/auth/token/lookup-self", undefined, token);
}

Deno.test("auth/token/create: explicit_max_ttl binds a root token created without a ttl", async () => {
  const t = await startTestCore();
  try {
    const made = [
      await create(t, { explicit_max_ttl: "1s" }),
      await create(t, { explicit_max_ttl: "1s" }, undefined, "create-orphan"),
      await create(t, { explicit_max_ttl: "1s", ttl: "1h" }),
    ];
    for (const a of made) assert.equal(a.lease_duration, 1);
    const info = (await lookupSelf(t, made[0]!.client_token)).body.data;
    assert.equal(info.explicit_max_ttl, 1);
    assert.equal(info.creation_ttl, 1);
    assert.deepEqual(info.policies, ["root"]);
    // Without explicit_max_ttl a root token still never expires.
    const forever = await create(t, {});
    assert.equal(forever.lease_duration, 0);
    await sleep(1100);
    for (const a of made) assert.equal((await lookupSelf(t, a.client_token)).status, 403);
    assert.equal((await lookupSelf(t, forever.client_token)).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test("auth/token/create: meta is decoded as Vault's weakly typed map[string]string", async () => {
  const t = await startTestCore();
  try {
    const a = await t.req("POST", "/v1/auth/token/create", {
      meta: { s: "x", n: 1, f: 1.5, neg: -7, yes: true, no: false, empty: "" },
    });
    assert.equal(a.status, 200, JSON.stringify(a.body));
    const want = { s: "x", n: "1", f: "1.5", neg: "-7", yes: "1", no: "0", empty: "" };
    assert.deepEqual(a.body.auth.metadata, want);
    const looked = await lookupSelf(t, a.body.auth.client_token);
    assert.deepEqual(looked.body.data.meta, want);
    // The whole map as a JSON string (some clients send it so) decodes the same way.
    const s = await t.req("POST", "/v1/auth/token/create", { meta: '{"n":2,"b":true}' });
    assert.deepEqual(s.body.auth.metadata, { n: "2", b: "1" });
    // No meta, null or {}: none.
    for (const meta of [undefined, null, {}]) {
      const r = await t.req("POST", "/v1/auth/token/create", meta === undefined ? {} : { meta });
      assert.equal(r.body.auth.metadata, null);
    }

    for (
      const [meta, msg] of [
        [
          { a: { b: "1" } },
          /meta: value of "a" must be a string, number or boolean, not an object/,
        ],
        [{ a: [1] }, /meta: value of "a" must be a string, number or boolean, not an array/],
        [{ a: null }, /meta: value of "a" must be a string, number or boolean, not null/],
        [[1], /meta: must be a map of strings/],
        [7, /meta: must be a map of strings/],
        ["not json", /meta: must be a map of strings/],
      ] as const
    ) {
      const r = await t.req("POST", "/v1/auth/token/create", { meta });
      assert.equal(r.status, 400, JSON.stringify(meta));
      assert.match(r.body.errors[0], msg);
    }
  } finally {
    await t.close();
  }
});

Deno.test("auth/token lookups report the uses left after the current request, as Vault does", async () => {
  const t = await startTestCore();
  try {
    await t.req("PUT", "/v1/sys/policies/acl/looker", {
      policy: `path "auth/token/lookup" { capabilities = ["update"] }
               path "auth/token/lookup-accessor" { capabilities = ["update"] }`,
    });
    const tok = await create(t, { policies: ["looker"], num_uses: 5 });
    const uses = async (r: Promise<{ status: number; body: { data: { num_uses: number } } }>) => {
      const x = await r;
      assert.equal(x.status, 200, JSON.stringify(x.body));
      return x.body.data.num_uses;
    };
    // Root's lookup spends none of the token's uses.
    assert.equal(
      await uses(t.req("POST", "/v1/auth/token/lookup", { token: tok.client_token })),
      5,
    );
    assert.equal(await uses(lookupSelf(t, tok.client_token)), 4);
    assert.equal(await uses(lookupSelf(t, tok.client_token)), 3);
    // The token looking itself up by token or accessor counts the same way.
    assert.equal(
      await uses(
        t.req("POST", "/v1/auth/token/lookup", { token: tok.client_token }, tok.client_token),
      ),
      2,
    );
    assert.equal(
      await uses(
        t.req(
          "POST",
          "/v1/auth/token/lookup-accessor",
          { accessor: tok.accessor },
          tok.client_token,
        ),
      ),
      1,
    );
    assert.equal(
      await uses(t.req("POST", "/v1/auth/token/lookup", { token: tok.client_token })),
      1,
    );
    // The last use: Vault reports -1 (revocation pending); afterwards the token is gone.
    assert.equal(await uses(lookupSelf(t, tok.client_token)), -1);
    assert.equal((await lookupSelf(t, tok.client_token)).status, 403);
    const gone = await t.req("POST", "/v1/auth/token/lookup-accessor", { accessor: tok.accessor });
    assert.equal(gone.status, 400);

    // A request the ACL refuses spends a use too (Vault decrements before the ACL check).
    const two = await create(t, { policies: ["default"], num_uses: 2 });
    assert.equal((await t.req("GET", "/v1/sys/mounts", undefined, two.client_token)).status, 403);
    assert.equal(await uses(lookupSelf(t, two.client_token)), -1);
    assert.equal((await lookupSelf(t, two.client_token)).status, 403);

    // A limited-use token still cannot create children, even on its last use.
    await t.req("PUT", "/v1/sys/policies/acl/creator", {
      policy: `path "auth/token/create" { capabilities = ["update"] }`,
    });
    const once = await create(t, { policies: ["creator"], num_uses: 1 });
    const child = await t.req("POST", "/v1/auth/token/create", {}, once.client_token);
    assert.equal(child.status, 400);
    assert.match(child.body.errors[0], /limited-use/);
    assert.equal((await lookupSelf(t, once.client_token)).status, 403);
  } finally {
    await t.close();
  }
});

Deno.test("a limited-use token: concurrent requests spend distinct uses; revoke-self sticks", async () => {
  const t = await startTestCore();
  try {
    await t.req("PUT", "/v1/sys/policies/acl/rd", {
      policy: `path "secret/data/*" { capabilities = ["read"] }`,
    });
    await t.req("POST", "/v1/secret/data/u", { data: { v: "1" } });
    const tok = await create(t, { policies: ["rd"], num_uses: 3 });
    const statuses = await Promise.all(
      Array.from(
        { length: 12 },
        async () => (await t.req("GET", "/v1/secret/data/u", undefined, tok.client_token)).status,
      ),
    );
    assert.equal(statuses.filter((s) => s === 200).length, 3, statuses.join(","));
    assert.equal(statuses.filter((s) => s === 403).length, 9, statuses.join(","));

    // revoke-self by a limited-use token: the use it spent must not write the token back.
    const many = await create(t, { policies: ["default"], num_uses: 5 });
    const r = await t.req("POST", "/v1/auth/token/revoke-self", undefined, many.client_token);
    assert.equal(r.status, 204);
    assert.equal((await lookupSelf(t, many.client_token)).status, 403);
    assert.equal(
      (await t.req("POST", "/v1/auth/token/lookup-accessor", { accessor: many.accessor })).status,
      400,
    );
  } finally {
    await t.close();
  }
});

Deno.test("auth/token/revoke-orphan revokes the token and leaves its children as orphans", async () => {
  const t = await startTestCore();
  try {
    await t.req("PUT", "/v1/sys/policies/acl/tok", {
      policy: `path "auth/token/create" { capabilities = ["update"] }
               path "auth/token/revoke-orphan" { capabilities = ["update"] }`,
    });
    await t.req("PUT", "/v1/sys/policies/acl/tok-sudo", {
      policy: `path "auth/token/revoke-orphan" { capabilities = ["update", "sudo"] }`,
    });
    const parent = await create(t, { policies: ["tok"] });
    const child = await create(t, { policies: ["tok"] }, parent.client_token);
    const grandchild = await create(t, { policies: ["default"] }, child.client_token);
    assert.equal((await lookupSelf(t, child.client_token)).body.data.orphan, false);

    // Root or sudo only: the update capability alone is not enough.
    const denied = await t.req(
      "POST",
      "/v1/auth/token/revoke-orphan",
      { token: child.client_token },
      parent.client_token,
    );
    assert.equal(denied.status, 403);
    let r = await t.req("POST", "/v1/auth/token/revoke-orphan", {});
    assert.equal(r.status, 400);
    assert.match(r.body.errors[0], /missing token/);
    r = await t.req("POST", "/v1/auth/token/revoke-orphan", { token: "hvs.nope" });
    assert.equal(r.status, 400);
    assert.match(r.body.errors[0], /not found/);

    const sudo = await create(t, { policies: ["tok-sudo"] });
    r = await t.req(
      "POST",
      "/v1/auth/token/revoke-orphan",
      { token: parent.client_token },
      sudo.client_token,
    );
    assert.equal(r.status, 204, JSON.stringify(r.body));
    assert.equal((await lookupSelf(t, parent.client_token)).status, 403);
    const c = await lookupSelf(t, child.client_token);
    assert.equal(c.status, 200);
    assert.equal(c.body.data.orphan, true);
    const g = await lookupSelf(t, grandchild.client_token);
    assert.equal(g.status, 200);
    assert.equal(g.body.data.orphan, false);
    // The orphaned child keeps working, children included, and still owns its subtree.
    assert.equal((await create(t, {}, child.client_token)).lease_duration > 0, true);
    r = await t.req("POST", "/v1/auth/token/revoke", { token: child.client_token });
    assert.equal(r.status, 204);
    assert.equal((await lookupSelf(t, grandchild.client_token)).status, 403);
  } finally {
    await t.close();
  }
});

Deno.test("accessor index: lookups by accessor work; a plaintext index is moved at unseal", async () => {
  const t = await startTestCore();
  try {
    const toks = await Promise.all(
      Array.from({ length: 4 }, () => create(t, { policies: ["default"] })),
    );
    const list = await t.req("LIST", "/v1/auth/token/accessors");
    assert.equal(list.status, 200);
    for (const a of toks) assert.ok(list.body.data.keys.includes(a.accessor));
    const la = await t.req("POST", "/v1/auth/token/lookup-accessor", {
      accessor: toks[0]!.accessor,
    });
    assert.equal(la.status, 200);
    assert.equal(la.body.data.accessor, toks[0]!.accessor);
    const ra = await t.req("POST", "/v1/auth/token/renew-accessor", {
      accessor: toks[1]!.accessor,
    });
    assert.equal(ra.status, 200);
    const rv = await t.req("POST", "/v1/auth/token/revoke-accessor", {
      accessor: toks[1]!.accessor,
    });
    assert.equal(rv.status, 204);
    assert.equal((await lookupSelf(t, toks[1]!.client_token)).status, 403);

    let keys = await t.core.physical.keys("sys/token/accessor/");
    assert.ok(keys.length >= 4);
    for (const k of keys) assert.match(k, /^sys\/token\/accessor\/[0-9a-f]{64}$/);

    // Turn token 2's entry back into what the code before the keyed index wrote, then unseal.
    const old = toks[2]!;
    const id = (await t.core.tokens.lookup(old.client_token))!.id;
    const before = new Set(keys);
    await t.core.barrier.batch(
      keys.map((k) => ({ op: "delete" as const, key: k })),
    );
    await t.core.barrier.batch([putJSONOp(`sys/token/accessor/${old.accessor}`, id)]);
    assert.equal((await lookupSelf(t, old.client_token)).status, 200);
    await t.core.sealNow();
    await t.core.unseal(decodeShare(t.unsealKeys[0]!));
    keys = await t.core.physical.keys("sys/token/accessor/");
    assert.equal(keys.length, 1);
    assert.ok(before.has(keys[0]!), "moved to the same keyed name a new token would get");
    const found = await t.req("POST", "/v1/auth/token/lookup-accessor", { accessor: old.accessor });
    assert.equal(found.status, 200, JSON.stringify(found.body));
    assert.equal(found.body.data.display_name, "token");
    assert.equal(
      (await t.req("POST", "/v1/auth/token/revoke-accessor", { accessor: old.accessor })).status,
      204,
    );
    assert.equal((await lookupSelf(t, old.client_token)).status, 403);
    assert.deepEqual(await t.core.physical.keys("sys/token/accessor/"), []);
  } finally {
    await t.close();
  }
});

Deno.test("a child token never outlives its parent: renewals are capped, and it is refused when the parent expires", async () => {
  const t = await startTestCore(); // no token sweep: refusal must not wait for it
  try {
    await t.req("PUT", "/v1/sys/policies/acl/tok", {
      policy: `path "auth/token/create" { capabilities = ["update"] }`,
    });
    const parent = await create(t, { policies: ["tok"], ttl: "3s" });
    const parentInfo = (await lookupSelf(t, parent.client_token)).body.data;
    const parentExpires = Date.parse(parentInfo.expire_time);
    const child = await create(t, { policies: ["tok"], ttl: "2s" }, parent.client_token);
    assert.equal(child.lease_duration, 2);

    // renew-self asks for an hour and gets what the parent has left, with Vault's warning.
    let r = await t.req(
      "POST",
      "/v1/auth/token/renew-self",
      { increment: "1h" },
      child.client_token,
    );
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.auth.lease_duration <= 3, JSON.stringify(r.body.auth));
    assert.match(
      r.body.warnings.join(" "),
      /TTL of "1h0m0s" exceeded the effective max_ttl of "[0-3]s"; TTL value is capped/,
    );
    let info = (await lookupSelf(t, child.client_token)).body.data;
    assert.ok(Date.parse(info.expire_time) <= parentExpires, info.expire_time);

    // The child can still make children of its own, which are capped the same way.
    const grandchild = await create(t, { policies: ["default"], ttl: "1h" }, child.client_token);
    assert.ok(grandchild.lease_duration <= 3);
    // Renewed by token, by accessor (root's own ACL allows anything): capped alike.
    r = await t.req("POST", "/v1/auth/token/renew", {
      token: grandchild.client_token,
      increment: "1h",
    });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.auth.lease_duration <= 3);
    assert.ok(r.body.warnings?.length);
    r = await t.req("POST", "/v1/auth/token/renew-accessor", {
      accessor: child.accessor,
      increment: "24h",
    });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.body.auth.lease_duration <= 3);
    for (const tok of [child.client_token, grandchild.client_token]) {
      info = (await lookupSelf(t, tok)).body.data;
      assert.ok(Date.parse(info.expire_time) <= parentExpires, info.expire_time);
    }

    // Right after the parent expires, its whole subtree is refused (no sweep has run).
    await sleep(Math.max(0, parentExpires - Date.now()) + 20);
    assert.equal((await lookupSelf(t, parent.client_token)).status, 403);
    assert.equal((await lookupSelf(t, child.client_token)).status, 403);
    assert.equal((await lookupSelf(t, grandchild.client_token)).status, 403);
    r = await t.req("POST", "/v1/auth/token/create", { ttl: "1h" }, child.client_token);
    assert.equal(r.status, 403);
    r = await t.req("POST", "/v1/auth/token/renew-accessor", {
      accessor: child.accessor,
      increment: "1h",
    });
    assert.equal(r.status, 400);
  } finally {
    await t.close();
  }
});

Deno.test("a renewal that shortens a parent shortens its children with it", async () => {
  const t = await startTestCore();
  try {
    await t.req("PUT", "/v1/sys/policies/acl/tok", {
      policy: `path "auth/token/create" { capabilities = ["update"] }`,
    });
    const parent = await create(t, { policies: ["tok"], ttl: "1h" });
    const child = await create(t, { policies: ["tok"], ttl: "1h" }, parent.client_token);
    const r = await t.req(
      "POST",
      "/v1/auth/token/renew-self",
      { increment: "1s" },
      parent.client_token,
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.auth.lease_duration, 1);
    assert.ok((await lookupSelf(t, child.client_token)).body.data.ttl <= 1);
    await sleep(1100);
    assert.equal((await lookupSelf(t, child.client_token)).status, 403);
  } finally {
    await t.close();
  }
});

Deno.test("policy names on tokens and auth roles are lowercased and trimmed, as Vault does", async () => {
  const t = await startTestCore();
  try {
    let r = await t.req("PUT", "/v1/sys/policies/acl/MyPol", {
      policy: `path "secret/data/mixed" { capabilities = ["read"] }
               path "auth/token/create" { capabilities = ["update"] }`,
    });
    assert.equal(r.status, 204, r.text);
    assert.equal((await t.req("PUT", "/v1/secret/data/mixed", { data: { a: "1" } })).status, 200);

    r = await t.req("POST", "/v1/auth/token/create", { policies: ["MyPol", " MYPOL "] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.auth.policies, ["default", "mypol"]);
    const tok = r.body.auth.client_token;
    assert.deepEqual((await lookupSelf(t, tok)).body.data.policies, ["default", "mypol"]);
    assert.equal((await t.req("GET", "/v1/secret/data/mixed", undefined, tok)).status, 200);
    // The comma-separated form, and a child naming its parent's policy in another case.
    r = await t.req("POST", "/v1/auth/token/create", { policies: "Default, MyPol" }, tok);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.auth.policies, ["default", "mypol"]);
    r = await t.req("POST", "/v1/auth/token/create", { policies: ["Other"] }, tok);
    assert.equal(r.status, 400);

    // Auth method roles store them lowercased; their login tokens carry them so.
    await t.req("POST", "/v1/sys/auth/userpass", { type: "userpass" });
    r = await t.req("POST", "/v1/auth/userpass/users/alice", {
      password: "correct horse",
      token_policies: ["MyPol", " Default"],
    });
    assert.equal(r.status, 204, r.text);
    r = await t.req("GET", "/v1/auth/userpass/users/alice");
    assert.deepEqual(r.body.data.token_policies, ["default", "mypol"]);
    r = await t.req("POST", "/v1/auth/userpass/users/alice/policies", { policies: "MYPOL" });
    assert.equal(r.status, 204, r.text);
    assert.deepEqual(
      (await t.req("GET", "/v1/auth/userpass/users/alice")).body.data.token_policies,
      ["mypol"],
    );
    r = await t.req("POST", "/v1/auth/userpass/login/alice", { password: "correct horse" }, null);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.auth.policies, ["default", "mypol"]);
    assert.equal(
      (await t.req("GET", "/v1/secret/data/mixed", undefined, r.body.auth.client_token)).status,
      200,
    );

    await t.req("POST", "/v1/sys/auth/approle", { type: "approle" });
    r = await t.req("POST", "/v1/auth/approle/role/web", { token_policies: ["MyPol "] });
    assert.equal(r.status, 204, r.text);
    r = await t.req("GET", "/v1/auth/approle/role/web");
    assert.deepEqual(r.body.data.token_policies, ["mypol"]);

    await t.req("POST", "/v1/sys/auth/jwt", { type: "jwt" });
    r = await t.req("POST", "/v1/auth/jwt/role/ci", {
      role_type: "jwt",
      bound_audiences: ["secrethub"],
      user_claim: "sub",
      token_policies: "MyPol,Default",
    });
    assert.equal(r.status, 204, r.text);
    r = await t.req("GET", "/v1/auth/jwt/role/ci");
    assert.deepEqual(r.body.data.token_policies, ["default", "mypol"]);
  } finally {
    await t.close();
  }
});

/** A policy granting update on auth/token/create, with sudo when asked. */
async function creatorPolicy(t: TestCore, name: string, sudo = false): Promise<void> {
  const caps = sudo ? `["update", "sudo"]` : `["update"]`;
  const r = await t.req("PUT", `/v1/sys/policies/acl/${name}`, {
    policy: `path "auth/token/create" { capabilities = ${caps} }`,
  });
  assert.equal(r.status, 204, r.text);
}

Deno.test("auth/token/create: a parent without default cannot give its child default (Vault's handleCreateCommon)", async () => {
  const t = await startTestCore();
  try {
    await creatorPolicy(t, "q2");
    const parent = await create(t, { policies: ["q2"], no_default_policy: true });
    let r = await t.req("POST", "/v1/auth/token/create", {}, parent.client_token);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.auth.policies, ["q2"]);
    r = await t.req("POST", "/v1/auth/token/create", { policies: ["q2"] }, parent.client_token);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.auth.policies, ["q2"]);
    r = await t.req(
      "POST",
      "/v1/auth/token/create",
      { policies: ["default"] },
      parent.client_token,
    );
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ["child policies must be subset of parent"]);

    // A parent that has default passes it on, unless the child asks not to get it.
    const withDefault = await create(t, { policies: ["q2"] });
    r = await t.req(
      "POST",
      "/v1/auth/token/create",
      { policies: ["q2"] },
      withDefault.client_token,
    );
    assert.deepEqual(r.body.auth.policies, ["default", "q2"]);
    r = await t.req(
      "POST",
      "/v1/auth/token/create",
      { no_default_policy: true },
      withDefault.client_token,
    );
    assert.deepEqual(r.body.auth.policies, ["q2"]);
  } finally {
    await t.close();
  }
});

Deno.test("auth/token/create: an empty policies list inherits the parent's, as Vault's len(policies) == 0", async () => {
  const t = await startTestCore();
  try {
    await creatorPolicy(t, "q2");
    await creatorPolicy(t, "q3");
    const parent = await create(t, { policies: ["q2", "q3"] });
    for (const policies of [[], ""]) {
      const r = await t.req("POST", "/v1/auth/token/create", { policies }, parent.client_token);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body.auth.policies, ["default", "q2", "q3"], JSON.stringify(policies));
    }
    const bare = await create(t, { policies: ["q2"], no_default_policy: true });
    const r = await t.req("POST", "/v1/auth/token/create", { policies: [] }, bare.client_token);
    assert.deepEqual(r.body.auth.policies, ["q2"]);
  } finally {
    await t.close();
  }
});

Deno.test("auth/token/create: sudo on the path lifts the subset rule, but only a root parent makes root", async () => {
  const t = await startTestCore();
  try {
    await creatorPolicy(t, "maker", true);
    await t.req("PUT", "/v1/sys/policies/acl/other", {
      policy: `path "secret/data/x" { capabilities = ["read"] }`,
    });
    const sudo = await create(t, { policies: ["maker"] });
    let r = await t.req(
      "POST",
      "/v1/auth/token/create",
      { policies: ["other"] },
      sudo.client_token,
    );
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.auth.policies, ["default", "other"]);
    // Even from a parent without default, as Vault adds it for sudo callers.
    const bare = await create(t, { policies: ["maker"], no_default_policy: true });
    r = await t.req("POST", "/v1/auth/token/create", { policies: ["other"] }, bare.client_token);
    assert.deepEqual(r.body.auth.policies, ["default", "other"]);
    r = await t.req("POST", "/v1/auth/token/create", { policies: ["root"] }, sudo.client_token);
    assert.equal(r.status, 400, r.text);
    assert.match(
      r.body.errors[0],
      /root tokens may not be created without parent token being root/,
    );

    // Without sudo the subset rule holds.
    await creatorPolicy(t, "plain");
    const plain = await create(t, { policies: ["plain"] });
    r = await t.req("POST", "/v1/auth/token/create", { policies: ["other"] }, plain.client_token);
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.body.errors, ["child policies must be subset of parent"]);
  } finally {
    await t.close();
  }
});

Deno.test("auth/token/lookup: no token means the caller's own, GET works, an unknown token is 403", async () => {
  const t = await startTestCore();
  try {
    await t.req("PUT", "/v1/sys/policies/acl/looker", {
      policy: `path "auth/token/lookup" { capabilities = ["read", "update"] }`,
    });
    const tok = await create(t, { policies: ["looker"] });
    for (
      const [method, body] of [["POST", {}], ["POST", { token: "" }], ["GET", undefined]] as const
    ) {
      const r = await t.req(method, "/v1/auth/token/lookup", body, tok.client_token);
      assert.equal(r.status, 200, `${method} ${JSON.stringify(body)}: ${r.text}`);
      assert.equal(r.body.data.accessor, tok.accessor);
      assert.equal(r.body.data.id, tok.client_token);
    }
    // GET with the token in the query looks that one up.
    const other = await create(t, { policies: ["looker"] });
    const q = await t.req(
      "GET",
      `/v1/auth/token/lookup?token=${other.client_token}`,
      undefined,
      tok.client_token,
    );
    assert.equal(q.status, 200, q.text);
    assert.equal(q.body.data.accessor, other.accessor);

    const bad = await t.req("POST", "/v1/auth/token/lookup", { token: "hvs.nope" });
    assert.equal(bad.status, 403, bad.text);
    assert.deepEqual(bad.body.errors, ["bad token"]);
  } finally {
    await t.close();
  }
});

Deno.test("auth/token/create: an empty id generates a token, as Vault acts on id only when set", async () => {
  const t = await startTestCore();
  try {
    let r = await t.req("POST", "/v1/auth/token/create", { id: "" });
    assert.equal(r.status, 200, r.text);
    assert.match(r.body.auth.client_token, /^hvs\.[A-Za-z0-9]{24}$/);
    await creatorPolicy(t, "q2");
    const plain = await create(t, { policies: ["q2"] });
    r = await t.req("POST", "/v1/auth/token/create", { id: "" }, plain.client_token);
    assert.equal(r.status, 200, r.text);
    assert.match(r.body.auth.client_token, /^hvs\./);
    // A real id still needs root or sudo.
    r = await t.req("POST", "/v1/auth/token/create", { id: "mine" }, plain.client_token);
    assert.equal(r.status, 403, r.text);
  } finally {
    await t.close();
  }
});

Deno.test("auth/token/create: display_name is sanitized as Vault's displayNameSanitize", async () => {
  const t = await startTestCore();
  try {
    for (
      const [name, want] of [
        ["CI job #5", "token-CI-job--5"],
        ["web-1", "token-web-1"],
        ["a.b/c!", "token-a-b-c"],
        ["x!!", "token-x-"],
        ["naïve", "token-na-ve"],
        ["", "token"],
      ]
    ) {
      const r = await t.req("POST", "/v1/auth/token/create", { display_name: name });
      assert.equal(r.status, 200, r.text);
      const info = await lookupSelf(t, r.body.auth.client_token);
      assert.equal(info.body.data.display_name, want, name);
    }
  } finally {
    await t.close();
  }
});

Deno.test("token create: sub-second TTLs are 1 s, explicit_max_ttl is capped at 768 h with Vault's warning", async () => {
  await withTestCore(async (t) => {
    await call(t, "PUT", "sys/policies/acl/p1", {
      policy: `path "secret/*" { capabilities = ["read"] }`,
    }, 204);
    let r = await call(t, "POST", "auth/token/create", { ttl: "500ms", policies: ["p1"] });
    assert.equal(r.auth.lease_duration, 1);
    r = await call(t, "POST", "auth/token/create", { explicit_max_ttl: "999ms", policies: ["p1"] });
    const short = r.auth.client_token;
    assert.equal(
      (await call(t, "GET", "auth/token/lookup-self", undefined, 200, short)).data
        .explicit_max_ttl,
      1,
    );

    r = await call(t, "POST", "auth/token/create", { explicit_max_ttl: "800h", policies: ["p1"] });
    assert.deepEqual(r.warnings, [
      "Explicit max TTL of 2880000 seconds is greater than system/mount allowed value; value is being capped to 2764800 seconds",
    ]);
    const tok = r.auth.client_token;
    assert.equal(
      (await call(t, "GET", "auth/token/lookup-self", undefined, 200, tok)).data.explicit_max_ttl,
      2764800,
    );
    r = await call(t, "POST", "auth/token/renew-self", { increment: "900h" }, 200, tok);
    assert.ok(r.auth.lease_duration <= 2764800, `${r.auth.lease_duration}`);
  });
});

Deno.test("token create: of concurrent creates of one chosen id, exactly one succeeds", async () => {
  await withTestCore(async (t) => {
    for (const p of ["a", "b", "c", "d"]) {
      await call(t, "PUT", `sys/policies/acl/${p}`, {
        policy: `path "secret/data/${p}" { capabilities = ["read"] }`,
      }, 204);
    }
    const rs = await Promise.all(
      ["a", "b", "c", "d", "a", "b", "c", "d"].map((p) =>
        t.req("POST", "/v1/auth/token/create", { id: "same-custom-id", policies: [p] })
      ),
    );
    const ok = rs.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, rs.map((r) => r.status).join(","));
    for (const r of rs) if (r.status !== 200) assert.equal(r.status, 400, r.text);
    // The one that succeeded is the token that exists, with its own policies and accessor.
    const look = await call(t, "GET", "auth/token/lookup-self", undefined, 200, "same-custom-id");
    assert.deepEqual(look.data.policies, ok[0]!.body.auth.policies);
    assert.equal(look.data.accessor, ok[0]!.body.auth.accessor);
    // No accessor left behind by the creates that lost: root's and the one token's.
    const accessors = (await call(t, "LIST", "auth/token/accessors")).data.keys as string[];
    assert.equal(accessors.length, 2, accessors.join(","));
  });
});

Deno.test("X-Vault-Token: a repeated header uses the first value; a comma inside one value is no prefix match", async () => {
  await withTestCore(async (t) => {
    // "root,xyz" is one (impossible) token, not the root token with something after it.
    for (const value of [`${t.rootToken},xyz`, `${t.rootToken},`]) {
      const r = await t.req("GET", "/v1/auth/token/lookup-self", undefined, null, {
        "x-vault-token": value,
      });
      assert.equal(r.status, 403, value);
    }
    // Two headers arrive joined with ", ": the first is used, as Go's Header.Get does.
    const h = new Headers();
    h.append("x-vault-token", t.rootToken);
    h.append("x-vault-token", "other");
    const r = await fetch(`${t.url}/v1/auth/token/lookup-self`, { headers: h });
    assert.equal(r.status, 200);
    await r.body?.cancel();
  });
});

Deno.test("bodiless and non-API replies say cache-control: no-store", async () => {
  await withTestCore(async (t) => {
    await call(t, "POST", "secret/data/k", { data: { v: "1" } });
    const del = await t.req("DELETE", "/v1/secret/data/k");
    assert.equal(del.status, 204);
    assert.equal(del.headers.get("cache-control"), "no-store");
    for (const path of ["/", "/v2/sys/health", "/ui"]) {
      const r = await fetch(`${t.url}${path}`);
      assert.equal(r.status, 404);
      assert.equal(r.headers.get("cache-control"), "no-store", path);
      await r.body?.cancel();
    }
  });
});
