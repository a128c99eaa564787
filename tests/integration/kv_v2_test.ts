/**
 * KV v2 through the real core (HTTP parsing, ACL, schema validation, barrier, libSQL), with the
 * engine mounted at `secret/`. Shapes and messages are Vault's, so these double as compatibility
 * checks for clients that deep-compare responses.
 */
import assert from "node:assert/strict";
import { startTestCore } from "../helpers/test_core.ts";
import {
  addVersion,
  configView,
  DEFAULT_CONFIG,
  metadataView,
  newKeyMeta,
  versionView,
} from "../../engines/kv/model.ts";

type Core = Awaited<ReturnType<typeof startTestCore>>;

const RFC3339_NANO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;

async function withCore(fn: (core: Core) => Promise<void>): Promise<void> {
  const core = await startTestCore();
  try {
    await fn(core);
  } finally {
    await core.close();
  }
}

function kvTest(name: string, fn: (core: Core) => Promise<void>): void {
  Deno.test(`kv v2 ${name}`, () => withCore(fn));
}

async function put(core: Core, path: string, data: unknown, options?: unknown) {
  const r = await core.req(
    "POST",
    `/v1/secret/data/${path}`,
    options ? { data, options } : { data },
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.data;
}

kvTest("data/:path write then read returns Vault's shapes", async (core) => {
  const written = await put(core, "app/db", { user: "u", pass: "p" });
  assert.deepEqual(Object.keys(written), [
    "created_time",
    "custom_metadata",
    "deletion_time",
    "destroyed",
    "version",
  ]);
  assert.match(written.created_time, RFC3339_NANO);
  assert.equal(written.custom_metadata, null);
  assert.equal(written.deletion_time, "");
  assert.equal(written.destroyed, false);
  assert.equal(written.version, 1);

  const r = await core.req("GET", "/v1/secret/data/app/db");
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.data, {
    data: { user: "u", pass: "p" },
    metadata: {
      created_time: written.created_time,
      custom_metadata: null,
      deletion_time: "",
      destroyed: false,
      version: 1,
    },
  });
});

kvTest("data/:path read selects versions with ?version=", async (core) => {
  await put(core, "v", { n: 1 });
  await put(core, "v", { n: 2 });
  let r = await core.req("GET", "/v1/secret/data/v");
  assert.deepEqual(r.body.data.data, { n: 2 });
  assert.equal(r.body.data.metadata.version, 2);
  r = await core.req("GET", "/v1/secret/data/v?version=1");
  assert.deepEqual(r.body.data.data, { n: 1 });
  r = await core.req("GET", "/v1/secret/data/v?version=0");
  assert.deepEqual(r.body.data.data, { n: 2 });
  r = await core.req("GET", "/v1/secret/data/v?version=7");
  assert.equal(r.status, 404);
  assert.deepEqual(r.body.errors, []);
  r = await core.req("GET", "/v1/secret/data/missing");
  assert.equal(r.status, 404);
  assert.deepEqual(r.body, { errors: [] });
  r = await core.req("GET", "/v1/secret/data/v?version=abc");
  assert.equal(r.status, 400);
  assert.match(r.body.errors.join(" "), /version/);
  r = await core.req("GET", "/v1/secret/data/v?version=-1");
  assert.equal(r.status, 400);
  r = await core.req("GET", "/v1/secret/data/v?version=%20");
  assert.equal(r.status, 400);
});

kvTest(
  "an empty ?version= (and ?depth=) reads the latest version, as Vault's TypeInt",
  async (core) => {
    await put(core, "e", { n: 1 });
    await put(core, "e", { n: 2, m: { x: 1 } });
    let r = await core.req("GET", "/v1/secret/data/e?version=");
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.data.data, { n: 2, m: { x: 1 } });
    assert.equal(r.body.data.metadata.version, 2);
    r = await core.req("GET", "/v1/secret/data/e?version");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.data.metadata.version, 2);
    r = await core.req("GET", "/v1/secret/subkeys/e?version=&depth=");
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.data.subkeys, { n: null, m: { x: null } });
    assert.equal(r.body.data.metadata.version, 2);
    r = await core.req("GET", "/v1/secret/data/missing?version=");
    assert.equal(r.status, 404);
  },
);

kvTest("data/:path honours check-and-set", async (core) => {
  await put(core, "c", { a: 1 }, { cas: 0 });
  let r = await core.req("POST", "/v1/secret/data/c", { data: { a: 2 }, options: { cas: 0 } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body.errors, ["check-and-set parameter did not match the current version"]);
  r = await core.req("POST", "/v1/secret/data/c", { data: { a: 2 }, options: { cas: 5 } });
  assert.equal(r.status, 400);
  const ok = await put(core, "c", { a: 2 }, { cas: 1 });
  assert.equal(ok.version, 2);
  r = await core.req("POST", "/v1/secret/data/c", { data: { a: 3 }, options: { cas: "2" } });
  assert.equal(r.status, 200, "cas is loosely typed like Vault's");
});

kvTest("cas_required on the mount and on a key", async (core) => {
  let r = await core.req("POST", "/v1/secret/config", { cas_required: true });
  assert.equal(r.status, 204);
  r = await core.req("POST", "/v1/secret/data/k", { data: { a: 1 } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body.errors, ["check-and-set parameter required for this call"]);
  await put(core, "k", { a: 1 }, { cas: 0 });
  r = await core.req("POST", "/v1/secret/config", { cas_required: false });
  await put(core, "free", { a: 1 });

  r = await core.req("POST", "/v1/secret/metadata/guarded", { cas_required: true });
  assert.equal(r.status, 204);
  r = await core.req("POST", "/v1/secret/data/guarded", { data: { a: 1 } });
  assert.equal(r.status, 400);
  assert.deepEqual(r.body.errors, ["check-and-set parameter required for this call"]);
  await put(core, "guarded", { a: 1 }, { cas: 0 });
});

kvTest("data/:path patch merges onto the latest version", async (core) => {
  await put(core, "p", { keep: 1, drop: 2, nested: { x: 1, y: 2 } });
  let r = await core.req("PATCH", "/v1/secret/data/p", {
    data: { drop: null, nested: { y: null, z: 3 }, add: "new" },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.data.version, 2);
  r = await core.req("GET", "/v1/secret/data/p");
  assert.deepEqual(r.body.data.data, { keep: 1, nested: { x: 1, z: 3 }, add: "new" });

  r = await core.req("PATCH", "/v1/secret/data/p", { data: { a: 1 }, options: { cas: 1 } });
  assert.equal(r.status, 400);
  r = await core.req("PATCH", "/v1/secret/data/nothing-here", { data: { a: 1 } });
  assert.equal(r.status, 404);
  r = await core.req("PATCH", "/v1/secret/data/p", { options: {} });
  assert.equal(r.status, 400);
});

kvTest("soft delete hides a version but keeps its metadata; undelete restores it", async (core) => {
  await put(core, "d", { v: 1 });
  await put(core, "d", { v: 2 });
  let r = await core.req("DELETE", "/v1/secret/data/d");
  assert.equal(r.status, 204);
  r = await core.req("GET", "/v1/secret/data/d");
  assert.equal(r.status, 404);
  assert.equal(r.body.data.data, null);
  assert.equal(r.body.data.metadata.version, 2);
  assert.match(r.body.data.metadata.deletion_time, RFC3339_NANO);
  assert.equal(r.body.data.metadata.destroyed, false);
  // Older versions are untouched.
  r = await core.req("GET", "/v1/secret/data/d?version=1");
  assert.equal(r.status, 200);

  r = await core.req("POST", "/v1/secret/delete/d", { versions: [1] });
  assert.equal(r.status, 204);
  r = await core.req("GET", "/v1/secret/data/d?version=1");
  assert.equal(r.status, 404);

  r = await core.req("POST", "/v1/secret/undelete/d", { versions: [1, 2] });
  assert.equal(r.status, 204);
  r = await core.req("GET", "/v1/secret/data/d");
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.data.data, { v: 2 });
  assert.equal(r.body.data.metadata.deletion_time, "");
  r = await core.req("GET", "/v1/secret/data/d?version=1");
  assert.equal(r.status, 200);

  r = await core.req("POST", "/v1/secret/delete/d", {});
  assert.equal(r.status, 400);
  assert.deepEqual(r.body.errors, ["No version number provided"]);
});

kvTest("destroy removes data for good", async (core) => {
  await put(core, "x", { v: 1 });
  await put(core, "x", { v: 2 });
  let r = await core.req("POST", "/v1/secret/destroy/x", { versions: [2] });
  assert.equal(r.status, 204);
  r = await core.req("GET", "/v1/secret/data/x");
  assert.equal(r.status, 404);
  assert.equal(r.body.data.metadata.destroyed, true);
  r = await core.req("POST", "/v1/secret/undelete/x", { versions: [2] });
  assert.equal(r.status, 204);
  r = await core.req("GET", "/v1/secret/data/x");
  assert.equal(r.status, 404, "undelete cannot bring back a destroyed version");
  r = await core.req("GET", "/v1/secret/metadata/x");
  assert.equal(r.body.data.versions["2"].destroyed, true);
  assert.equal(r.body.data.versions["1"].destroyed, false);
  r = await core.req("PUT", "/v1/secret/destroy/x", { versions: "1" });
  assert.equal(r.status, 204);
  r = await core.req("GET", "/v1/secret/data/x?version=1");
  assert.equal(r.status, 404);
});

kvTest("versions beyond max_versions are pruned", async (core) => {
  let r = await core.req("POST", "/v1/secret/metadata/m", { max_versions: 2 });
  assert.equal(r.status, 204);
  for (let i = 1; i <= 4; i++) await put(core, "m", { i });
  r = await core.req("GET", "/v1/secret/metadata/m");
  assert.equal(r.body.data.current_version, 4);
  assert.equal(r.body.data.oldest_version, 3);
  assert.deepEqual(Object.keys(r.body.data.versions).sort(), ["3", "4"]);
  r = await core.req("GET", "/v1/secret/data/m?version=1");
  assert.equal(r.status, 404);
  r = await core.req("GET", "/v1/secret/data/m?version=3");
  assert.deepEqual(r.body.data.data, { i: 3 });

  // The mount default is 10 and oldest_version is 0 until something is pruned.
  for (let i = 1; i <= 11; i++) await put(core, "many", { i });
  r = await core.req("GET", "/v1/secret/metadata/many");
  assert.equal(Object.keys(r.body.data.versions).length, 10);
  assert.equal(r.body.data.oldest_version, 2);
  await put(core, "few", { i: 1 });
  r = await core.req("GET", "/v1/secret/metadata/few");
  assert.equal(r.body.data.oldest_version, 0);
});

kvTest("metadata/:path read, write and delete", async (core) => {
  let r = await core.req("POST", "/v1/secret/metadata/meta-only", {
    max_versions: 5,
    delete_version_after: "1h30m",
    custom_metadata: { owner: "team-a", secret_type: "api_key", tags: "prod, billing" },
  });
  assert.equal(r.status, 204);
  r = await core.req("GET", "/v1/secret/metadata/meta-only");
  assert.equal(r.status, 200);
  assert.deepEqual(Object.keys(r.body.data), [
    "cas_required",
    "created_time",
    "current_version",
    "custom_metadata",
    "delete_version_after",
    "max_versions",
    "oldest_version",
    "updated_time",
    "versions",
  ]);
  assert.equal(r.body.data.current_version, 0);
  assert.equal(r.body.data.max_versions, 5);
  assert.equal(r.body.data.delete_version_after, "1h30m0s");
  assert.deepEqual(r.body.data.custom_metadata, {
    owner: "team-a",
    secret_type: "api_key",
    tags: "prod, billing",
  });
  assert.deepEqual(r.body.data.versions, {});
  r = await core.req("GET", "/v1/secret/data/meta-only");
  assert.equal(r.status, 404, "metadata without data has nothing to read");

  const w = await put(core, "meta-only", { a: 1 });
  assert.equal(w.custom_metadata.owner, "team-a");
  assert.notEqual(w.deletion_time, "", "delete_version_after schedules a deletion");

  r = await core.req("PATCH", "/v1/secret/metadata/meta-only", {
    custom_metadata: { owner: null, service: "billing" },
    max_versions: 7,
  });
  assert.equal(r.status, 204, JSON.stringify(r.body));
  r = await core.req("GET", "/v1/secret/metadata/meta-only");
  assert.deepEqual(r.body.data.custom_metadata, {
    secret_type: "api_key",
    tags: "prod, billing",
    service: "billing",
  });
  assert.equal(r.body.data.max_versions, 7);
  assert.equal(r.body.data.delete_version_after, "1h30m0s");

  r = await core.req("PATCH", "/v1/secret/metadata/absent", { max_versions: 1 });
  assert.equal(r.status, 404);

  r = await core.req("DELETE", "/v1/secret/metadata/meta-only");
  assert.equal(r.status, 204);
  r = await core.req("GET", "/v1/secret/metadata/meta-only");
  assert.equal(r.status, 404);
  r = await core.req("GET", "/v1/secret/data/meta-only?version=1");
  assert.equal(r.status, 404);
  r = await core.req("DELETE", "/v1/secret/metadata/meta-only");
  assert.equal(r.status, 204, "deleting what is gone is not an error");
});

kvTest("metadata LIST shows folders, 404s when empty and filters leaves", async (core) => {
  let r = await core.req("LIST", "/v1/secret/metadata/");
  assert.equal(r.status, 404);
  assert.deepEqual(r.body.errors, []);

  await put(core, "top", { a: 1 });
  await put(core, "team/a", { a: 1 });
  await put(core, "team/b", { a: 1 });
  await put(core, "team/deep/c", { a: 1 });
  await core.req("POST", "/v1/secret/metadata/team/a", {
    custom_metadata: { service: "pay", environment: "prod", tags: "db,critical" },
  });
  await core.req("POST", "/v1/secret/metadata/team/b", {
    custom_metadata: { service: "web", environment: "prod", secret_type: "token" },
  });

  r = await core.req("LIST", "/v1/secret/metadata/");
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.data.keys, ["team/", "top"]);
  r = await core.req("GET", "/v1/secret/metadata?list=true");
  assert.deepEqual(r.body.data.keys, ["team/", "top"]);
  r = await core.req("LIST", "/v1/secret/metadata/team");
  assert.deepEqual(r.body.data.keys, ["a", "b", "deep/"]);
  r = await core.req("LIST", "/v1/secret/metadata/nope/");
  assert.equal(r.status, 404);

  // Filters apply to the leaves of the listed folder; sub-folders are always kept.
  r = await core.req("LIST", "/v1/secret/metadata/team/?service=pay");
  assert.deepEqual(r.body.data.keys, ["a", "deep/"]);
  r = await core.req("LIST", "/v1/secret/metadata/team/?environment=prod&secret_type=token");
  assert.deepEqual(r.body.data.keys, ["b", "deep/"]);
  r = await core.req("LIST", "/v1/secret/metadata/team/?tag=critical");
  assert.deepEqual(r.body.data.keys, ["a", "deep/"]);
  r = await core.req("LIST", "/v1/secret/metadata/team/deep/?service=pay");
  assert.equal(r.status, 404);
  r = await core.req("LIST", "/v1/secret/metadata/team/?secret_type=nonsense");
  assert.equal(r.status, 400);
  // Every documented key filters: `tags` as `tag`, description as a substring, rotation_period
  // as the same duration however written.
  await core.req(
    "PATCH",
    "/v1/secret/metadata/team/b",
    {
      custom_metadata: { description: "Payment Gateway token", rotation_period: "30d" },
    },
    undefined,
    { "content-type": "application/merge-patch+json" },
  );
  r = await core.req("LIST", "/v1/secret/metadata/team/?tags=db");
  assert.deepEqual(r.body.data.keys, ["a", "deep/"]);
  r = await core.req("LIST", "/v1/secret/metadata/team/?description=gateway");
  assert.deepEqual(r.body.data.keys, ["b", "deep/"]);
  r = await core.req("LIST", "/v1/secret/metadata/team/?rotation_period=720h");
  assert.deepEqual(r.body.data.keys, ["b", "deep/"]);
  r = await core.req("LIST", "/v1/secret/metadata/team/?rotation_period=1h");
  assert.deepEqual(r.body.data.keys, ["deep/"]);
  // A misspelled filter is a 400, not every key as if all matched.
  for (const q of ["type=token", "secret-type=api_key", "rotation=30d"]) {
    r = await core.req("LIST", `/v1/secret/metadata/team/?${q}`);
    assert.equal(r.status, 400, `${q}: ${r.text}`);
    assert.match(r.body.errors[0], /unknown list parameter/);
  }

  // A soft-deleted secret is still listed, a metadata-deleted one is not.
  await core.req("DELETE", "/v1/secret/data/top");
  r = await core.req("LIST", "/v1/secret/metadata/");
  assert.deepEqual(r.body.data.keys, ["team/", "top"]);
  await core.req("DELETE", "/v1/secret/metadata/top");
  r = await core.req("LIST", "/v1/secret/metadata/");
  assert.deepEqual(r.body.data.keys, ["team/"]);
});

kvTest(
  "metadata LIST filters never match a leaf whose metadata the caller cannot read",
  async (core) => {
    await put(core, "team/a", { a: 1 });
    await put(core, "team/b", { a: 1 });
    await put(core, "team/c", { a: 1 });
    for (const k of ["a", "b", "c"]) {
      await core.req("POST", `/v1/secret/metadata/team/${k}`, {
        custom_metadata: { environment: "prod", tags: "pci" },
      });
    }
    await core.req("PUT", "/v1/sys/policies/acl/lister", {
      policy: `path "secret/metadata/*" { capabilities = ["list"] }
path "secret/metadata/team/b" { capabilities = ["read"] }`,
    });
    const tok = (await core.req("POST", "/v1/auth/token/create", { policies: ["lister"] })).body
      .auth.client_token;
    // Listing names needs list only, as in Vault.
    let r = await core.req("LIST", "/v1/secret/metadata/team/", undefined, tok);
    assert.deepEqual(r.body.data.keys, ["a", "b", "c"]);
    assert.equal((await core.req("GET", "/v1/secret/metadata/team/a", undefined, tok)).status, 403);
    // A filter reads metadata: only leaves the token may read can match.
    for (const q of ["environment=prod", "tag=pci"]) {
      r = await core.req("LIST", `/v1/secret/metadata/team/?${q}`, undefined, tok);
      assert.deepEqual(r.body.data.keys, ["b"], q);
    }
    r = await core.req("LIST", "/v1/secret/metadata/team/?environment=prod");
    assert.deepEqual(r.body.data.keys, ["a", "b", "c"], "root reads everything");
  },
);

kvTest("custom_metadata limits and well-known keys are validated", async (core) => {
  const bad: unknown[] = [
    { secret_type: "banana" },
    { rotation_period: "every tuesday" },
    { rotation_period: "0s" },
    { ["k".repeat(129)]: "v" },
    { k: "v".repeat(513) },
    { k: "" },
    { k: "line\nbreak" },
    Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])),
    { nested: { no: "maps" } },
    ["not", "a", "map"],
  ];
  for (const custom_metadata of bad) {
    const r = await core.req("POST", "/v1/secret/metadata/cm", { custom_metadata });
    assert.equal(r.status, 400, JSON.stringify(custom_metadata).slice(0, 80));
  }
  const r = await core.req("POST", "/v1/secret/metadata/cm", {
    custom_metadata: {
      description: "Stripe key",
      tags: "payments, prod",
      service: "billing",
      environment: "prod",
      secret_type: "api_key",
      rotation_period: "720h",
    },
  });
  assert.equal(r.status, 204);
});

kvTest("config read and write", async (core) => {
  let r = await core.req("GET", "/v1/secret/config");
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.data, {
    cas_required: false,
    delete_version_after: "0s",
    max_versions: 0,
  });
  r = await core.req("POST", "/v1/secret/config", {
    max_versions: "3",
    delete_version_after: 90,
  });
  assert.equal(r.status, 204);
  r = await core.req("GET", "/v1/secret/config");
  assert.deepEqual(r.body.data, {
    cas_required: false,
    delete_version_after: "1m30s",
    max_versions: 3,
  });
  for (let i = 1; i <= 4; i++) await put(core, "capped", { i });
  r = await core.req("GET", "/v1/secret/metadata/capped");
  assert.deepEqual(Object.keys(r.body.data.versions).sort(), ["2", "3", "4"]);
});

kvTest("durations past Go's int64 nanoseconds are a 400 and never break a secret", async (core) => {
  await put(core, "big", { a: 1 });
  const tooBig: [string, string, unknown][] = [
    ["POST", "/v1/secret/metadata/big", { delete_version_after: "3000000000h" }],
    ["POST", "/v1/secret/metadata/big", { delete_version_after: "2562048h" }],
    ["POST", "/v1/secret/metadata/big", { delete_version_after: 1e20 }],
    ["POST", "/v1/secret/metadata/big", { delete_version_after: "99999999999999999999" }],
    ["PATCH", "/v1/secret/metadata/big", { delete_version_after: "3000000000h" }],
    ["POST", "/v1/secret/config", { delete_version_after: "9999999999999999999999h" }],
    ["POST", "/v1/secret/config", { delete_version_after: "-9999999999999999999999h" }],
    ["POST", "/v1/secret/metadata/big", {
      custom_metadata: { rotation_period: "99999999999999999999h" },
    }],
  ];
  for (const [method, path, body] of tooBig) {
    const r = await core.req(method, path, body);
    assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
  }
  // Nothing was stored: writes and reads still work and report no schedule.
  let r = await core.req("GET", "/v1/secret/config");
  assert.equal(r.body.data.delete_version_after, "0s");
  const w = await put(core, "big", { a: 2 });
  assert.equal(w.deletion_time, "");
  for (const sub of ["data", "metadata", "subkeys"]) {
    r = await core.req("GET", `/v1/secret/${sub}/big`);
    assert.equal(r.status, 200, `${sub}: ${r.text}`);
  }

  // Go's own maximum is accepted and renders as plain digits and a real timestamp.
  r = await core.req("POST", "/v1/secret/config", { delete_version_after: "2562047h" });
  assert.equal(r.status, 204, r.text);
  r = await core.req("GET", "/v1/secret/config");
  assert.equal(r.body.data.delete_version_after, "2562047h0m0s");
  r = await core.req("POST", "/v1/secret/metadata/big", {
    delete_version_after: "2562047h47m16.854775807s",
  });
  assert.equal(r.status, 204, r.text);
  r = await core.req("POST", "/v1/secret/data/big", { data: { a: 3 } });
  assert.equal(r.status, 200, r.text);
  assert.match(r.body.data.deletion_time, RFC3339_NANO);
  r = await core.req("GET", "/v1/secret/metadata/big");
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.data.delete_version_after, "2562047h47m16s");
});

Deno.test("kv v2 a setting stored before durations were bounded still renders", () => {
  // Defence in depth for data written by an older build: such a value must not make a write
  // commit and then fail to render, nor print in exponent notation.
  const meta = newKeyMeta(Date.now());
  meta.deleteVersionAfter = 3.6e25;
  const config = { ...DEFAULT_CONFIG, deleteVersionAfter: 3.6e25 };
  const { version } = addVersion(meta, config, Date.now());
  assert.match(versionView(meta, version).deletion_time as string, RFC3339_NANO);
  assert.equal(metadataView(meta).delete_version_after, "2562047h47m16s");
  assert.equal(configView(config).delete_version_after, "2562047h47m16s");
});

kvTest(
  "data/:path patch compares the media type as Vault's mime.ParseMediaType does",
  async (core) => {
    await put(core, "t1", { a: 1 });
    const patch = (type: string) =>
      core.req("PATCH", "/v1/secret/data/t1", { data: { b: 2 } }, undefined, {
        "content-type": type,
      });
    for (const type of ["application/merge-patch+jsonx", "application/merge-patch", "text/plain"]) {
      const r = await patch(type);
      assert.equal(r.status, 415, `${type}: ${r.text}`);
    }
    for (
      const type of [
        "Application/Merge-Patch+Json",
        "application/merge-patch+json; charset=utf-8",
        "APPLICATION/MERGE-PATCH+JSON ;charset=UTF-8",
      ]
    ) {
      const r = await patch(type);
      assert.equal(r.status, 200, `${type}: ${r.text}`);
    }
  },
);

kvTest("metadata LIST: an empty filter value filters nothing, for every filter", async (core) => {
  await put(core, "f/a", { a: 1 });
  await put(core, "f/b", { a: 1 });
  await put(core, "f/plain", { a: 1 });
  await core.req("POST", "/v1/secret/metadata/f/a", {
    custom_metadata: { service: "pay", environment: "prod", secret_type: "token", tags: "db" },
  });
  await core.req("POST", "/v1/secret/metadata/f/b", {
    custom_metadata: { service: "web", environment: "dev" },
  });
  const all = ["a", "b", "plain"];
  for (
    const q of [
      "tag=",
      "service=",
      "environment=",
      "secret_type=",
      "tag=&service=&environment=&secret_type=",
    ]
  ) {
    const r = await core.req("LIST", `/v1/secret/metadata/f/?${q}`);
    assert.equal(r.status, 200, `${q}: ${r.text}`);
    assert.deepEqual(r.body.data.keys, all, q);
  }
  // A blank filter next to a real one leaves just the real one.
  const r = await core.req("LIST", "/v1/secret/metadata/f/?service=&environment=prod");
  assert.deepEqual(r.body.data.keys, ["a"]);
});

kvTest("malformed input is a 400, never a 500", async (core) => {
  await put(core, "target", { a: 1 });
  const cases: [string, string, unknown][] = [
    ["POST", "/v1/secret/data/target", {}],
    ["POST", "/v1/secret/data/target", { data: "string" }],
    ["POST", "/v1/secret/data/target", { data: [1, 2] }],
    ["POST", "/v1/secret/data/target", { data: null }],
    ["POST", "/v1/secret/data/target", { data: {}, options: "x" }],
    ["POST", "/v1/secret/data/target", { data: {}, options: { cas: -1 } }],
    ["POST", "/v1/secret/data/target", { data: {}, options: { cas: "abc" } }],
    ["POST", "/v1/secret/data/target", {
      data: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, i])),
    }],
    ["POST", "/v1/secret/data/a//b", { data: {} }],
    ["PATCH", "/v1/secret/data/target", { data: "x" }],
    ["POST", "/v1/secret/metadata/target", { max_versions: "many" }],
    ["POST", "/v1/secret/metadata/target", { max_versions: -1 }],
    ["POST", "/v1/secret/metadata/target", { cas_required: "maybe" }],
    ["POST", "/v1/secret/metadata/target", { delete_version_after: "soon" }],
    ["POST", "/v1/secret/metadata/target", { custom_metadata: 5 }],
    ["PATCH", "/v1/secret/metadata/target", { custom_metadata: { k: { x: 1 } } }],
    ["POST", "/v1/secret/delete/target", { versions: "abc" }],
    ["POST", "/v1/secret/delete/target", { versions: [0] }],
    ["POST", "/v1/secret/undelete/target", { versions: [-1] }],
    ["POST", "/v1/secret/destroy/target", { versions: [1.5] }],
    ["POST", "/v1/secret/destroy/target", { versions: [] }],
    ["POST", "/v1/secret/config", { max_versions: "x" }],
    ["POST", "/v1/secret/config", { delete_version_after: "forever" }],
    ["GET", "/v1/secret/data/target?version=abc", undefined],
    ["GET", "/v1/secret/subkeys/target?depth=x", undefined],
  ];
  for (const [method, path, body] of cases) {
    const r = await core.req(method, path, body);
    assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)?.slice(0, 60)}`);
    assert.ok(Array.isArray(r.body.errors) && r.body.errors.length > 0);
  }
  const r = await core.req("GET", "/v1/secret/data/target");
  assert.deepEqual(r.body.data.data, { a: 1 }, "nothing above changed the secret");
});

kvTest("subkeys returns the structure without values", async (core) => {
  await put(core, "s", { a: 1, b: { c: "x", d: { e: true } }, empty: {} });
  let r = await core.req("GET", "/v1/secret/subkeys/s");
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.data.subkeys, { a: null, b: { c: null, d: { e: null } }, empty: null });
  assert.equal(r.body.data.metadata.version, 1);
  r = await core.req("GET", "/v1/secret/subkeys/s?depth=1");
  assert.deepEqual(r.body.data.subkeys, { a: null, b: null, empty: null });
});

kvTest("paths outside the KV v2 layout are 404", async (core) => {
  let r = await core.req("GET", "/v1/secret/foo");
  assert.equal(r.status, 404);
  r = await core.req("POST", "/v1/secret/foo", { a: 1 });
  assert.equal(r.status, 404);
  r = await core.req("GET", "/v1/secret/data");
  assert.equal(r.status, 404);
});

kvTest("writes name the parameters they ignored, as Vault does", async (core) => {
  let r = await core.req("POST", "/v1/secret/metadata/typo/x", {
    max_version: 5,
    custom_meta: { service: "x" },
  });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.warnings, [
    "Endpoint ignored these unrecognized parameters: [custom_meta max_version]",
  ]);
  r = await core.req("POST", "/v1/secret/metadata/typo/x", { max_versions: 3, colour: "red" });
  assert.deepEqual(r.body.warnings, ["Endpoint ignored these unrecognized parameters: [colour]"]);
  assert.equal((await core.req("GET", "/v1/secret/metadata/typo/x")).body.data.max_versions, 3);
  r = await core.req("POST", "/v1/secret/data/typo/y", { data: { a: "1" }, option: { cas: 0 } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.warnings, ["Endpoint ignored these unrecognized parameters: [option]"]);
  r = await core.req("POST", "/v1/secret/data/typo/y", { data: { a: "2" } });
  assert.equal(r.body.warnings, null);
});
