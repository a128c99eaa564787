/**
 * What the AppRole and userpass tests share about Vault's token params (token_fields.ts): one
 * write in legacy names and what it must come to, the writes to refuse, and renewal by each route.
 */
import assert from "node:assert/strict";
import { call, type Json, type TestCore } from "../helpers/test_core.ts";

/** Bound to where the test client is, so that it can log in. */
export const LEGACY_WRITE = {
  policies: "p1",
  bound_cidrs: "127.0.0.0/8",
  ttl: "1m",
  max_ttl: "2m",
  num_uses: 1,
  token_explicit_max_ttl: "90s",
  token_no_default_policy: true,
};

/** Asserts that a record read back and a login under it show LEGACY_WRITE; returns the lookup. */
export async function assertLegacyApplied(t: TestCore, read: Json, auth: Json): Promise<Json> {
  assert.deepEqual(read.token_policies, ["p1"]);
  assert.deepEqual(read.token_bound_cidrs, ["127.0.0.0/8"]);
  assert.equal(read.token_ttl, 60);
  assert.equal(read.token_max_ttl, 120);
  assert.equal(read.token_num_uses, 1);
  assert.equal(read.token_explicit_max_ttl, 90);
  assert.equal(read.token_no_default_policy, true);
  assert.equal(read.token_period, 0);
  assert.equal(auth.lease_duration, 60);
  assert.equal(auth.num_uses, 1);
  assert.deepEqual(auth.policies, ["p1"]);
  const looked = (await call(t, "POST", "auth/token/lookup", { token: auth.client_token })).data;
  assert.equal(looked.explicit_max_ttl, 90);
  assert.deepEqual(looked.bound_cidrs, ["127.0.0.0/8"]);
  return looked;
}

/** Writes refused with a 400, and the message each must carry. */
export const REFUSED_WRITES: [Record<string, unknown>, RegExp][] = [
  [{ token_period: "1h" }, /^token_period: periodic tokens are not supported$/],
  [{ period: 60 }, /^period: periodic tokens are not supported$/],
  [{ token_type: "batch" }, /^token_type: only service tokens are supported$/],
  [{ policies: "a", token_policies: "b" }, /^Cannot specify both "policies" and "token_policies"$/],
  // Both names are one value when they agree (a read written back); only a conflict is refused.
  [{ ttl: "1m", token_ttl: "2m" }, /^Cannot specify both "ttl" and "token_ttl"$/],
  [{ max_ttl: "1h", token_max_ttl: "2h" }, /^Cannot specify both "max_ttl" and "token_max_ttl"$/],
  [{ num_uses: 2, token_num_uses: 3 }, /^Cannot specify both "num_uses" and "token_num_uses"$/],
  [
    { bound_cidrs: "10.0.0.0/8", token_bound_cidrs: "10.0.0.0/16" },
    /^Cannot specify both "bound_cidrs" and "token_bound_cidrs"$/,
  ],
  [{ num_uses: -1 }, /^num_uses: must not be negative$/],
  [{ bound_cidrs: "10.0.0.0/33" }, /^bound_cidrs: /],
];

/** Asserts that each route of renewal asking for 10m gets more than 0 and at most `max` s. */
export async function assertRenewalsWithin(
  t: TestCore,
  login: { token: string; accessor: string },
  max: number,
): Promise<void> {
  const { token, accessor } = login;
  for (
    const [path, body, tok] of [
      ["renew-self", { increment: "10m" }, token],
      ["renew", { token, increment: "10m" }, undefined],
      ["renew-accessor", { accessor, increment: "10m" }, undefined],
    ] as const
  ) {
    const r = await t.req("POST", `/v1/auth/token/${path}`, body, tok);
    assert.equal(r.status, 200, `${path}: ${r.text}`);
    const granted = r.body.auth.lease_duration;
    assert.ok(granted > 0 && granted <= max, `${path}: ${granted}`);
  }
}

/**
 * Asserts that once the role (or user) at `path`, issued with `deploy,read` and `default`, grants
 * other policies, the token's renewals are refused (Vault's "policies have changed"), also when
 * only `default` is dropped.
 */
export async function assertRenewRefusedOncePoliciesChange(
  t: TestCore,
  path: string,
  token: string,
): Promise<void> {
  const refused = async (route: string, body: Json, tok?: string) => {
    const r = await t.req("POST", `/v1/auth/token/${route}`, body, tok);
    assert.equal(r.status, 400, `${route}: ${r.text}`);
    assert.deepEqual(r.body.errors, ["policies have changed, not renewing"]);
  };
  await call(t, "POST", path, { token_policies: "read" }, 204);
  await refused("renew-self", { increment: "10m" }, token);
  await refused("renew", { token });
  await call(
    t,
    "POST",
    path,
    { token_policies: "deploy,read", token_no_default_policy: true },
    204,
  );
  await refused("renew-self", {}, token);
}
