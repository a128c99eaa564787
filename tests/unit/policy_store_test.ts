import assert from "node:assert/strict";
import { LibsqlStorage } from "../../core/storage/libsql_storage.ts";
import { Barrier } from "../../core/barrier/barrier.ts";
import { Keyring } from "../../core/barrier/keyring.ts";
import { PolicyStore } from "../../core/policy/store.ts";
import type { StorageView } from "../../engines/sdk.ts";

async function withPolicies(fn: (p: PolicyStore, view: StorageView) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const s = await LibsqlStorage.open(`${dir}/p.db`);
  const b = new Barrier(s);
  b.unsealWith(Keyring.create());
  const view = b.view("sys/policy/");
  try {
    const p = new PolicyStore(view);
    await p.ensureDefault();
    await fn(p, view);
  } finally {
    await s.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const text = (i: number) => `path "secret/data/p${i}" { capabilities = ["read"] }`;

Deno.test("PolicyStore: concurrent writes of one policy are applied one by one, in call order", async () => {
  await withPolicies(async (p) => {
    await Promise.all(Array.from({ length: 30 }, (_, i) => p.write("parv", text(i))));
    let got = (await p.read("parv"))!;
    assert.equal(got.version, 30);
    assert.equal(got.policy, text(29), "the last write's text");
    // Another case of the name is the same policy, and the same queue.
    await Promise.all([p.write("PARV", text(30)), p.write("Parv", text(31))]);
    got = (await p.read("parv"))!;
    assert.equal(got.version, 32);
    assert.equal(got.policy, text(31));
    // A delete queued between writes takes effect in its place: the next write starts over.
    await Promise.all([p.write("parv", text(40)), p.delete("parv"), p.write("parv", text(41))]);
    got = (await p.read("parv"))!;
    assert.equal(got.version, 1);
    assert.equal(got.policy, text(41));
    // A refused write (a bad policy) is neither stored nor counted, and holds nothing up.
    const settled = await Promise.allSettled([
      p.write("parv", text(50)),
      p.write("parv", "path {"),
      p.write("parv", text(51)),
    ]);
    assert.deepEqual(settled.map((x) => x.status), ["fulfilled", "rejected", "fulfilled"]);
    got = (await p.read("parv"))!;
    assert.equal(got.version, 3);
    assert.equal(got.policy, text(51));
    // Other names are not held up by, nor counted with, this one.
    await Promise.all([p.write("a", text(1)), p.write("b", text(2)), p.write("a", text(3))]);
    assert.equal((await p.read("a"))!.version, 2);
    assert.equal((await p.read("b"))!.version, 1);
  });
});

Deno.test("PolicyStore.acl(): a policy name in another case (a token stored before names were lowercased) is the same policy", async () => {
  await withPolicies(async (p) => {
    await p.write("MyPol", text(1));
    assert.deepEqual((await p.list()).filter((n) => n !== "root" && n !== "default"), ["mypol"]);
    for (const names of [["MyPol"], ["default", "MYPOL"], ["mypol"]]) {
      const acl = await p.acl(names);
      assert.equal(acl.check("secret/data/p1", "read", false).allowed, true, names.join(","));
      assert.equal(acl.check("secret/data/p2", "read", false).allowed, false);
    }
  });
});
