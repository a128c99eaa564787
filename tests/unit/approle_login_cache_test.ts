import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { Barrier } from "../../core/barrier/barrier.ts";
import { Keyring } from "../../core/barrier/keyring.ts";
import { WriteEpochView } from "../../core/auth/approle/write_epoch.ts";
import { type CachedLogin, LoginCache } from "../../core/auth/approle/login_cache.ts";
import { Hasher } from "../../core/auth/approle/hasher.ts";
import type { Role } from "../../core/auth/approle/role.ts";
import type { SecretIdEntry } from "../../core/auth/approle/secret_id.ts";

async function withView(fn: (v: WriteEpochView) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  const s = await LibsqlStorage.open(`${dir}/cache.db`);
  try {
    const b = new Barrier(s);
    b.unsealWith(Keyring.create());
    await fn(new WriteEpochView(b.view("auth/x/")));
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function login(): CachedLogin {
  return {
    name: "web",
    role: { name: "web", token_policies: ["web"], secret_id_bound_cidrs: [] } as unknown as Role,
    entry: { hmac: "s", num_uses: 0, metadata: { team: "a" } } as unknown as SecretIdEntry,
  };
}

Deno.test("WriteEpochView.epoch moves when a write starts and again when it lands", async () => {
  await withView(async (v) => {
    const e0 = v.epoch;
    const p = v.put("k", new TextEncoder().encode("1"));
    assert.equal(v.epoch, e0 + 1, "moved as the write was queued");
    await p;
    assert.equal(v.epoch, e0 + 2, "moved again once it committed");
    await v.get("k");
    await v.list("");
    assert.equal(v.epoch, e0 + 2, "reads leave it alone");
    await v.delete("k");
    await v.batch([]);
    assert.equal(v.epoch, e0 + 6);
  });
});

Deno.test("LoginCache keeps a login until anything in the mount is written", async () => {
  await withView(async (v) => {
    const c = new LoginCache(v);
    c.set("r", "s", c.epoch, login());
    assert.equal(c.get("r", "s")?.name, "web");
    assert.equal(c.get("r", "other"), undefined, "keyed by both HMACs");
    await v.put("role/unrelated", new TextEncoder().encode("{}"));
    assert.equal(c.get("r", "s"), undefined);
    assert.equal(c.size, 0);
  });
});

Deno.test("LoginCache.set() ignores what was read before a write started or landed", async () => {
  await withView(async (v) => {
    const c = new LoginCache(v);
    // Read, then a write starts before the login stores what it read.
    let epoch = c.epoch;
    const inFlight = v.put("secret_id/web/s", new TextEncoder().encode("{}"));
    c.set("r", "s", epoch, login());
    assert.equal(c.get("r", "s"), undefined);
    // Read while the write was in flight (so possibly the old value), stored after it landed.
    epoch = c.epoch;
    await inFlight;
    c.set("r", "s", epoch, login());
    assert.equal(c.get("r", "s"), undefined);
    // Nothing written since the read: kept.
    epoch = c.epoch;
    c.set("r", "s", epoch, login());
    assert.ok(c.get("r", "s"));
  });
});

Deno.test("LoginCache entries are frozen, so no login can change what the next one sees", async () => {
  await withView((v) => {
    const c = new LoginCache(v);
    c.set("r", "s", c.epoch, login());
    const hit = c.get("r", "s")!;
    assert.throws(() => (hit.role.token_policies as string[]).push("root"), TypeError);
    assert.throws(() => {
      (hit.entry!.metadata as Record<string, string>).team = "b";
    }, TypeError);
    assert.deepEqual(c.get("r", "s")!.role.token_policies, ["web"]);
    return Promise.resolve();
  });
});

Deno.test("Hasher gives the same bytes as createHmac, with domain separation", () => {
  for (const keyLen of [32, 64, 100]) {
    const key = crypto.getRandomValues(new Uint8Array(keyLen));
    const h = new Hasher(key);
    for (const v of ["", "role-1", "ü\u0000x", "a".repeat(300)]) {
      const ref = (d: string) => createHmac("sha256", key).update(`${d}\0${v}`).digest("hex");
      assert.equal(h.roleId(v), ref("role_id"), `role_id, key ${keyLen}, "${v.slice(0, 8)}"`);
      assert.equal(h.secretId(v), ref("secret_id"));
      // Repeat calls must not carry state over from the last one.
      assert.equal(h.secretId(v), ref("secret_id"));
    }
    assert.notEqual(h.roleId("x"), h.secretId("x"));
  }
});
