/** sys/policies/acl over real HTTP: concurrent writes of one policy. */
import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";

Deno.test("sys/policies/acl: concurrent writes of one policy each count a version", async () => {
  const t = await startTestCore();
  try {
    const n = 30;
    const text = (i: number) => `path "secret/data/p${i}" { capabilities = ["read"] }`;
    const results = await Promise.all(
      Array.from(
        { length: n },
        (_, i) => t.req("PUT", "/v1/sys/policies/acl/parv", { policy: text(i) }),
      ),
    );
    for (const r of results) assert.equal(r.status, 204, r.text);
    const r = await t.req("GET", "/v1/sys/policies/acl/parv");
    assert.equal(r.body.data.version, n);
    assert.ok(Array.from({ length: n }, (_, i) => text(i)).includes(r.body.data.policy));
    // Writes under another case of the name are the same policy.
    await Promise.all([
      t.req("PUT", "/v1/sys/policies/acl/PARV", { policy: text(0) }),
      t.req("PUT", "/v1/sys/policies/acl/parv", { policy: text(1) }),
    ]);
    assert.equal((await t.req("GET", "/v1/sys/policies/acl/parv")).body.data.version, n + 2);
  } finally {
    await t.close();
  }
});
