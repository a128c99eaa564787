/**
 * min_wrapping_ttl / max_wrapping_ttl in policies are enforced on the request, after the ACL
 * decision, against the matched (merged) rule: as Vault's ACL.AllowOperation does.
 */
import assert from "node:assert/strict";
import { startTestCore, type TestCore } from "../helpers/test_core.ts";

async function tokenWith(t: TestCore, policies: Record<string, string>): Promise<string> {
  for (const [name, policy] of Object.entries(policies)) {
    const r = await t.req("PUT", `/v1/sys/policies/acl/${name}`, { policy });
    assert.equal(r.status, 204, r.text);
  }
  const r = await t.req("POST", "/v1/auth/token/create", { policies: Object.keys(policies) });
  assert.equal(r.status, 200, r.text);
  return r.body.auth.client_token;
}

function wrapped(ttl: string | null): Record<string, string> {
  return ttl === null ? {} : { "x-vault-wrap-ttl": ttl };
}

/** A 403 whose second error says why (the first is Vault's "permission denied"). */
function denied(r: { status: number; body: { errors: string[] }; text: string }, why: RegExp) {
  assert.equal(r.status, 403, r.text);
  assert.equal(r.body.errors[0], "permission denied");
  assert.match(r.body.errors[1]!, why);
}

Deno.test("min/max_wrapping_ttl: unwrapped, below the min and above the max are 403; within is wrapped", async () => {
  const t = await startTestCore();
  try {
    const tok = await tokenWith(t, {
      w: `path "secret/data/w" {
        capabilities = ["create", "update", "read"]
        min_wrapping_ttl = "60s"
        max_wrapping_ttl = "120s"
      }
      path "secret/data/free" { capabilities = ["create", "update", "read"] }`,
    });
    const write = (ttl: string | null, v: string) =>
      t.req("POST", "/v1/secret/data/w", { data: { v } }, tok, wrapped(ttl));
    const read = (ttl: string | null) =>
      t.req("GET", "/v1/secret/data/w", undefined, tok, wrapped(ttl));

    // Writes: the create (nothing there yet) as much as the update.
    denied(await write(null, "a"), /response wrapping is required.*between 60s and 120s/);
    denied(await write("300s", "a"), /wrapping TTL 300s is above the maximum of 120s/);
    denied(await write("10s", "a"), /wrapping TTL 10s is below the minimum of 60s/);
    denied(await write("0", "a"), /response wrapping is required/);
    // None of those wrote anything.
    assert.equal((await t.req("GET", "/v1/secret/data/w")).status, 404);

    let r = await write("90s", "a");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data, null);
    assert.equal(r.body.wrap_info.ttl, 90);
    r = await write("2m", "b"); // the max itself, in other units
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.wrap_info.ttl, 120);
    assert.equal((await t.req("GET", "/v1/secret/data/w")).body.data.metadata.version, 2);

    // Reads are bound too (Vault checks the bounds for every operation).
    denied(await read(null), /response wrapping is required/);
    denied(await read("121s"), /above the maximum/);
    denied(await read("59s"), /below the minimum/);
    r = await read("60s");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.wrap_info.ttl, 60);
    assert.ok(!r.text.includes('"v":"b"'));
    const unwrapped = await t.req("POST", "/v1/sys/wrapping/unwrap", {
      token: r.body.wrap_info.token,
    }, null);
    assert.equal(unwrapped.body.data.data.v, "b");

    // The short route is the same Vault path, under the same rule.
    denied(
      await t.req("POST", "/v1/secrets/w", { v: "c" }, tok),
      /response wrapping is required/,
    );
    r = await t.req("POST", "/v1/secrets/w", { v: "c" }, tok, wrapped("100s"));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.wrap_info.ttl, 100);

    // A path whose rule sets no bounds is not affected, wrapped or not.
    assert.equal(
      (await t.req("POST", "/v1/secret/data/free", { data: { v: 1 } }, tok)).status,
      200,
    );
    assert.equal((await t.req("GET", "/v1/secret/data/free", undefined, tok)).status, 200);
    r = await t.req("GET", "/v1/secret/data/free", undefined, tok, wrapped("1h"));
    assert.equal(r.body.wrap_info.ttl, 3600);

    // The root token has no rules: no bounds.
    assert.equal((await t.req("GET", "/v1/secret/data/w")).status, 200);

    // The denials are audited with their reason.
    const errors = [...t.core.physical.auditRows()]
      .filter((row) => row.entry.result === "denied" && row.entry.path === "secret/data/w")
      .map((row) => String(row.entry.error));
    assert.ok(errors.some((e) => /above the maximum of 120s/.test(e)), errors.join("\n"));
    assert.ok(errors.some((e) => /response wrapping is required/.test(e)), errors.join("\n"));
  } finally {
    await t.close();
  }
});

Deno.test("min_wrapping_ttl alone and max_wrapping_ttl alone each make wrapping mandatory", async () => {
  const t = await startTestCore();
  try {
    const tok = await tokenWith(t, {
      p: `path "secret/data/min" { capabilities = ["create", "update"] min_wrapping_ttl = "60s" }
      path "secret/data/max" { capabilities = ["create", "update"] max_wrapping_ttl = "2m" }`,
    });
    const write = (path: string, ttl: string | null) =>
      t.req("POST", `/v1/secret/data/${path}`, { data: { v: 1 } }, tok, wrapped(ttl));
    denied(await write("min", null), /response wrapping is required.*of at least 60s/);
    denied(await write("min", "30s"), /below the minimum of 60s/);
    assert.equal((await write("min", "24h")).status, 200);
    // Vault: a max with no min still refuses an unwrapped request.
    denied(await write("max", null), /response wrapping is required.*of at most 120s/);
    denied(await write("max", "121"), /above the maximum of 120s/);
    assert.equal((await write("max", "1s")).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test("wrapping bounds of several policies on one path merge as Vault merges them (the lesser of each)", async () => {
  const t = await startTestCore();
  try {
    const tok = await tokenWith(t, {
      a: `path "secret/data/m" {
        capabilities = ["create", "update"]
        min_wrapping_ttl = "60s"
        max_wrapping_ttl = "120s"
      }`,
      b: `path "secret/data/m" {
        capabilities = ["create", "update"]
        min_wrapping_ttl = "30s"
        max_wrapping_ttl = "90s"
      }`,
    });
    const write = (ttl: string | null) =>
      t.req("POST", "/v1/secret/data/m", { data: { v: 1 } }, tok, wrapped(ttl));
    // Merged: min 30s, max 90s.
    assert.equal((await write("40s")).status, 200);
    denied(await write("100s"), /above the maximum of 90s/);
    denied(await write("20s"), /below the minimum of 30s/);
    denied(await write(null), /required/);

    // Each policy is valid alone, but their merge leaves min 100s above max 50s: nothing passes.
    const tok2 = await tokenWith(t, {
      c: `path "secret/data/n" { capabilities = ["create", "update"] min_wrapping_ttl = "100s" }`,
      d: `path "secret/data/n" { capabilities = ["create", "update"] max_wrapping_ttl = "50s" }`,
    });
    for (const ttl of [null, "40s", "75s", "200s"]) {
      denied(
        await t.req("POST", "/v1/secret/data/n", { data: { v: 1 } }, tok2, wrapped(ttl)),
        /no wrapping TTL satisfies/,
      );
    }
  } finally {
    await t.close();
  }
});
