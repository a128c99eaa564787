import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";

Deno.test("sys/mounts: secrets/ (the short route) and Vault's protected prefixes are reserved: 400, nothing mounted", async () => {
  const t = await startTestCore();
  try {
    for (
      const p of [
        "secrets",
        "secrets/",
        "secrets/team",
        "secrets/a/b",
        "audit",
        "sys/x",
        "auth/x",
        "cubbyhole",
        "identity/x",
      ]
    ) {
      const r = await t.req("POST", `/v1/sys/mounts/${p}`, { type: "kv-v2" });
      assert.equal(r.status, 400, `${p}: ${r.text}`);
      assert.match(r.body.errors[0], /path is reserved/, p);
    }
    const mounts = Object.keys((await t.req("GET", "/v1/sys/mounts")).body.data);
    assert.deepEqual(mounts.filter((m) => /^(secrets|audit)/.test(m)), []);
    // cubbyhole/ is the built-in one, untouched by the refused kv-v2 mount.
    const all = (await t.req("GET", "/v1/sys/mounts")).body.data;
    assert.equal(all["cubbyhole/"].type, "cubbyhole");
    // A name that merely starts with the same letters is not under secrets/.
    assert.equal((await t.req("POST", "/v1/sys/mounts/secrets2", { type: "kv-v2" })).status, 204);
    assert.equal((await t.req("POST", "/v1/secrets2/data/x", { data: { v: 1 } })).status, 200);
    // The short route still goes to KV at secret/.
    assert.equal((await t.req("POST", "/v1/secrets/team/x", { v: "short" })).status, 200);
    assert.equal(
      (await t.req("GET", "/v1/secret/data/team/x")).body.data.data.v,
      "short",
    );
  } finally {
    await t.close();
  }
});

Deno.test("sys/mounts: a mount name with a space or other odd character is a 400, not a 500", async () => {
  const t = await startTestCore();
  try {
    for (const p of ["foo%20", "pki/app%20", "a%25b", "x%3Fy"]) {
      const r = await t.req("POST", `/v1/sys/mounts/${p}`, { type: "kv-v2" });
      assert.equal(r.status, 400, `${p}: ${r.text}`);
      assert.match(r.body.errors[0], /invalid mount path/);
    }
  } finally {
    await t.close();
  }
});
