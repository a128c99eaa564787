import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";
import { createCore } from "../../core/server.ts";
import { decodeShare } from "../../core/seal/seal.ts";
import { setLogLevel } from "../../core/log.ts";

Deno.test("sys/init → unseal → KV write/read/version/delete/undelete/destroy → seal → 503 → unseal", async () => {
  const t = await startTestCore({ uninitialized: true });
  try {
    let r = await t.req("GET", "/v1/sys/health", undefined, null);
    assert.equal(r.status, 501);
    r = await t.req("GET", "/v1/sys/health?uninitcode=200", undefined, null);
    assert.equal(r.status, 200);
    r = await t.req("GET", "/v1/sys/init", undefined, null);
    assert.deepEqual(r.body, { initialized: false });

    r = await t.req("PUT", "/v1/sys/init", { secret_shares: 5, secret_threshold: 1 }, null);
    assert.equal(r.status, 400);
    assert.match(r.body.errors[0], /threshold must be greater than one/);
    r = await t.req("PUT", "/v1/sys/init", { secret_shares: 3, secret_threshold: 4 }, null);
    assert.equal(r.status, 400);

    r = await t.req("PUT", "/v1/sys/init", {
      secret_shares: 2,
      secret_threshold: 2,
      pgp_keys: ["x"],
    }, null);
    assert.equal(r.status, 400);
    assert.match(r.body.errors[0], /PGP/);
    // null is no PGP keys, as Vault's clients send it.
    r = await t.req("PUT", "/v1/sys/init", {
      secret_shares: 5,
      secret_threshold: 3,
      pgp_keys: null,
      root_token_pgp_key: null,
    }, null);
    assert.equal(r.status, 200, r.text);
    const { keys, keys_base64, root_token } = r.body;
    assert.equal(keys.length, 5);
    assert.equal(keys_base64.length, 5);
    assert.deepEqual(Buffer.from(keys[0], "hex"), Buffer.from(keys_base64[0], "base64"));
    r = await t.req("PUT", "/v1/sys/init", { secret_shares: 1, secret_threshold: 1 }, null);
    assert.equal(r.status, 400);
    assert.deepEqual(r.body.errors, ["Vault is already initialized"]);
    // Whatever the body: an empty one, or bad fields, get the same answer as in Vault.
    for (const body of [{}, { secret_shares: "x" }]) {
      const again = await t.req("PUT", "/v1/sys/init", body, null);
      assert.equal(again.status, 400);
      assert.deepEqual(again.body.errors, ["Vault is already initialized"], JSON.stringify(body));
    }

    r = await t.req("GET", "/v1/sys/seal-status", undefined, null);
    assert.equal(r.body.sealed, true);
    assert.equal(r.body.t, 3);
    assert.equal(r.body.n, 5);
    r = await t.req("GET", "/v1/secret/data/x", undefined, root_token);
    assert.equal(r.status, 503);
    assert.deepEqual(r.body.errors, ["Vault is sealed"]);

    // Wrong share: detected once the threshold is reached, progress resets.
    const bad = Buffer.from(keys_base64[2], "base64");
    bad[0]! ^= 0xff;
    await t.req("PUT", "/v1/sys/unseal", { key: keys[0] }, null);
    await t.req("PUT", "/v1/sys/unseal", { key: keys_base64[1] }, null);
    r = await t.req("PUT", "/v1/sys/unseal", { key: bad.toString("base64") }, null);
    assert.equal(r.status, 400);
    r = await t.req("GET", "/v1/sys/seal-status", undefined, null);
    assert.equal(r.body.sealed, true);
    assert.equal(r.body.progress, 0);

    // reset clears progress.
    await t.req("PUT", "/v1/sys/unseal", { key: keys[0] }, null);
    r = await t.req("PUT", "/v1/sys/unseal", { reset: true }, null);
    assert.equal(r.body.progress, 0);

    for (const [i, k] of [keys[4], keys_base64[2], keys[0]].entries()) {
      r = await t.req("PUT", "/v1/sys/unseal", { key: k }, null);
      assert.equal(r.status, 200);
      assert.equal(r.body.sealed, i < 2);
    }
    r = await t.req("GET", "/v1/sys/health", undefined, null);
    assert.equal(r.status, 200);

    // KV v2 round trip.
    r = await t.req("POST", "/v1/secret/data/app/db", { data: { password: "p1" } }, root_token);
    assert.equal(r.status, 200);
    assert.equal(r.body.data.version, 1);
    r = await t.req("POST", "/v1/secret/data/app/db", { data: { password: "p2" } }, root_token);
    assert.equal(r.body.data.version, 2);
    r = await t.req("GET", "/v1/secret/data/app/db?version=1", undefined, root_token);
    assert.equal(r.body.data.data.password, "p1");
    r = await t.req("DELETE", "/v1/secret/data/app/db", undefined, root_token);
    assert.equal(r.status, 204);
    r = await t.req("GET", "/v1/secret/data/app/db", undefined, root_token);
    assert.equal(r.status, 404);
    assert.equal(r.body.data.metadata.version, 2);
    r = await t.req("POST", "/v1/secret/undelete/app/db", { versions: [2] }, root_token);
    assert.equal(r.status, 204);
    r = await t.req("GET", "/v1/secret/data/app/db", undefined, root_token);
    assert.equal(r.body.data.data.password, "p2");
    r = await t.req("POST", "/v1/secret/destroy/app/db", { versions: [1] }, root_token);
    assert.equal(r.status, 204);
    r = await t.req("GET", "/v1/secret/data/app/db?version=1", undefined, root_token);
    assert.equal(r.status, 404);
    assert.equal(r.body.data.metadata.destroyed, true);

    // Seal: 503 for everything but seal/health routes, keys gone from memory.
    r = await t.req("PUT", "/v1/sys/seal", undefined, root_token);
    assert.equal(r.status, 204);
    r = await t.req("GET", "/v1/secret/data/app/db", undefined, root_token);
    assert.equal(r.status, 503);
    r = await t.req("GET", "/v1/auth/token/lookup-self", undefined, root_token);
    assert.equal(r.status, 503);
    r = await t.req("GET", "/v1/sys/health", undefined, null);
    assert.equal(r.status, 503);
    r = await t.req("GET", "/v1/sys/health?sealedcode=204", undefined, null);
    assert.equal(r.status, 204);
    assert.equal((await t.req("GET", "/v1/sys/health/live", undefined, null)).status, 200);
    assert.equal((await t.req("GET", "/v1/sys/health/ready", undefined, null)).status, 503);
    assert.equal(t.core.barrier.sealed, true);

    for (const k of keys.slice(0, 3)) await t.req("PUT", "/v1/sys/unseal", { key: k }, null);
    r = await t.req("GET", "/v1/secret/data/app/db", undefined, root_token);
    assert.equal(r.status, 200);
    assert.equal(r.body.data.data.password, "p2");
    assert.equal((await t.req("GET", "/v1/sys/health/ready", undefined, null)).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test("sys/rotate adds a key term; old data still reads; key-status reports it", async () => {
  const t = await startTestCore();
  try {
    await t.req("POST", "/v1/secret/data/a", { data: { v: "before" } });
    let r = await t.req("GET", "/v1/sys/key-status");
    assert.equal(r.body.data.term, 1);
    assert.equal(r.body.term, 1);
    r = await t.req("PUT", "/v1/sys/rotate");
    assert.equal(r.status, 204);
    r = await t.req("GET", "/v1/sys/key-status");
    assert.equal(r.body.data.term, 2);
    await t.req("POST", "/v1/secret/data/b", { data: { v: "after" } });
    // Survives a seal/unseal: the rotated keyring was persisted under the root key.
    await t.req("PUT", "/v1/sys/seal");
    await t.req("PUT", "/v1/sys/unseal", { key: t.unsealKeys[0] }, null);
    assert.equal((await t.req("GET", "/v1/secret/data/a")).body.data.data.v, "before");
    assert.equal((await t.req("GET", "/v1/secret/data/b")).body.data.data.v, "after");
    assert.equal((await t.req("GET", "/v1/sys/key-status")).body.data.term, 2);
  } finally {
    await t.close();
  }
});

Deno.test("concurrent sys/init: one wins, the others are told it is done, and the winner's keys unseal", async () => {
  const t = await startTestCore({ uninitialized: true });
  try {
    const inits = await Promise.all(
      [1, 2, 3].map(() => t.req("PUT", "/v1/sys/init", { secret_shares: 1, secret_threshold: 1 })),
    );
    assert.deepEqual(inits.map((r) => r.status).sort(), [200, 400, 400]);
    const ok = inits.find((r) => r.status === 200)!;
    for (const r of inits.filter((x) => x.status === 400)) {
      assert.match(r.body.errors.join(" "), /already initialized/);
    }
    const u = await t.req("PUT", "/v1/sys/unseal", { key: ok.body.keys_base64[0] });
    assert.equal(u.body.sealed, false, u.text);
  } finally {
    await t.close();
  }
});

Deno.test("concurrent sys/rotate: each adds one term, and everything written meanwhile reads after a re-unseal", async () => {
  const t = await startTestCore();
  try {
    const before = (await t.req("GET", "/v1/sys/key-status")).body.data.term;
    const jobs: Promise<{ status: number; text: string }>[] = [];
    for (let i = 0; i < 12; i++) {
      jobs.push(t.req("PUT", "/v1/sys/rotate"));
      jobs.push(t.req("POST", `/v1/secret/data/rot/${i}`, { data: { v: `value-${i}` } }));
    }
    const done = await Promise.all(jobs);
    assert.ok(
      done.every((r) => r.status === 204 || r.status === 200),
      done.map((r) => r.status).join(),
    );
    const term = (await t.req("GET", "/v1/sys/key-status")).body.data.term;
    assert.equal(term, before + 12);
    // Sealing drops every decrypted value: what reads now comes from the stored keyring.
    assert.equal((await t.req("PUT", "/v1/sys/seal")).status, 204);
    const u = await t.req("PUT", "/v1/sys/unseal", { key: t.unsealKeys[0] }, null);
    assert.equal(u.body.sealed, false, u.text);
    for (let i = 0; i < 12; i++) {
      const r = await t.req("GET", `/v1/secret/data/rot/${i}`);
      assert.equal(r.status, 200, `rot/${i}: ${r.text}`);
      assert.equal(r.body.data.data.v, `value-${i}`);
    }
  } finally {
    await t.close();
  }
});

Deno.test("cluster_id is stored: the same after a restart, and not reported while sealed", async () => {
  const dir = await Deno.makeTempDir();
  const db = `${dir}/c.db`;
  try {
    let { core } = await createCore(db, { tidyIntervalMs: 0 });
    const init = await core.init(1, 1);
    assert.equal(core.clusterId, "", "sealed: no id");
    await core.unseal(decodeShare(init.keys_base64[0]!));
    const id = core.clusterId;
    assert.match(id, /^[0-9a-f-]{36}$/);
    await core.close();
    ({ core } = await createCore(db, { tidyIntervalMs: 0 }));
    try {
      assert.equal(core.clusterId, "");
      await core.unseal(decodeShare(init.keys_base64[0]!));
      assert.equal(core.clusterId, id);
      await core.sealNow();
      assert.equal(core.clusterId, "");
    } finally {
      await core.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sys/health names the cluster only while unsealed, as Vault does", async () => {
  const t = await startTestCore();
  try {
    let r = await t.req("GET", "/v1/sys/health", undefined, null);
    assert.equal(r.body.cluster_name, "secrethub-cluster");
    assert.match(r.body.cluster_id, /^[0-9a-f-]{36}$/);
    await t.req("PUT", "/v1/sys/seal");
    r = await t.req("GET", "/v1/sys/health", undefined, null);
    assert.equal(r.status, 503);
    assert.equal(r.body.cluster_id, undefined);
    assert.equal(r.body.cluster_name, undefined);
  } finally {
    await t.close();
  }
});

Deno.test("sys/init takes the body Vault's Go client sends; unsupported seal options are 400s", async () => {
  const t = await startTestCore({ uninitialized: true });
  try {
    // api.InitRequest has no omitempty: every field comes, empty.
    const goClient = {
      secret_shares: 1,
      secret_threshold: 1,
      stored_shares: 0,
      pgp_keys: null,
      recovery_shares: 0,
      recovery_threshold: 0,
      recovery_pgp_keys: null,
      root_token_pgp_key: "",
    };
    for (
      const [extra, why] of [
        [{ root_token_pgp_key: "a2V5" }, /PGP/],
        [{ pgp_keys: ["a2V5"] }, /PGP/],
        [{ stored_shares: 1 }, /stored keys are not supported/],
        [{ recovery_shares: 5 }, /recovery keys are not applicable/],
      ] as const
    ) {
      const r = await t.req("PUT", "/v1/sys/init", { ...goClient, ...extra }, null);
      assert.equal(r.status, 400, r.text);
      assert.match(r.body.errors[0], why);
    }
    const r = await t.req("PUT", "/v1/sys/init", { ...goClient, pgp_keys: [] }, null);
    assert.equal(r.status, 200, r.text);
    const key = r.body.keys[0];
    assert.equal((await t.req("PUT", "/v1/sys/unseal", { key }, null)).body.sealed, false);
    // A malformed key is a 400 even when there is nothing left to unseal, as in Vault.
    const bad = await t.req("PUT", "/v1/sys/unseal", { key: "zzz" }, null);
    assert.equal(bad.status, 400, bad.text);
  } finally {
    await t.close();
  }
});

Deno.test("init runs no unseal hooks, and init, unseal, rotate and seal are logged", async () => {
  const t = await startTestCore({ uninitialized: true });
  try {
    let unsealed = 0;
    t.core.onUnseal.push(() => unsealed++);
    // The lifecycle shows in the log, as Vault's "vault is unsealed" / "vault is sealed".
    const lines: string[] = [];
    const write = console.error;
    console.error = (line: string) => lines.push(line);
    setLogLevel("info");
    try {
      const r = await t.req("PUT", "/v1/sys/init", { secret_shares: 1, secret_threshold: 1 }, null);
      assert.equal(r.status, 200, r.text);
      assert.equal(unsealed, 0);
      await t.req("PUT", "/v1/sys/unseal", { key: r.body.keys[0] }, null);
      assert.equal(unsealed, 1);
      await t.req("PUT", "/v1/sys/rotate", {}, r.body.root_token);
      await t.req("PUT", "/v1/sys/seal", {}, r.body.root_token);
    } finally {
      console.error = write;
      setLogLevel("warn"); // as tests/helpers/test_core.ts sets it
    }
    const messages = lines.map((l) => JSON.parse(l)["@message"]);
    assert.deepEqual(
      messages.filter((m) => /^(core|keyring) /.test(m)),
      ["core initialized", "core unsealed", "keyring rotated", "core sealed"],
    );
  } finally {
    await t.close();
  }
});

Deno.test('sys/seal-status: nonce is a UUID while an unseal is in progress, "" otherwise', async () => {
  const t = await startTestCore({ shares: 3, threshold: 2 });
  try {
    await t.core.sealNow();
    const status = async () => (await t.req("GET", "/v1/sys/seal-status", undefined, null)).body;
    assert.equal((await status()).nonce, "");
    await t.req("PUT", "/v1/sys/unseal", { key: t.unsealKeys[0] }, null);
    const during = await status();
    assert.equal(during.progress, 1);
    assert.match(during.nonce, /^[0-9a-f-]{36}$/);
    await t.req("PUT", "/v1/sys/unseal", { key: t.unsealKeys[1] }, null);
    const after = await status();
    assert.equal(after.sealed, false);
    assert.equal(after.nonce, "");
  } finally {
    await t.close();
  }
});
