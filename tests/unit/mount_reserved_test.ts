import assert from "node:assert/strict";
import { reservedMountPath } from "../../core/mounts/mount_table.ts";

Deno.test("reservedMountPath: secrets/ and Vault's protected prefixes, at or under them", () => {
  for (
    const p of [
      "secrets/",
      "secrets/x/",
      "audit/",
      "auth/",
      "auth/x/",
      "sys/",
      "sys/x/",
      "cubbyhole/",
      "identity/",
    ]
  ) {
    assert.match(reservedMountPath(p) ?? "", /path is reserved/, p);
  }
  assert.match(reservedMountPath("secrets/")!, /short route/);
  for (const p of ["secret/", "secrets2/", "my-secrets/", "kv/secrets/", "sysx/", "auditing/"]) {
    assert.equal(reservedMountPath(p), null, p);
  }
});
