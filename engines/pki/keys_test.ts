import assert from "node:assert/strict";
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { checkKeyStrength, generateKey, keySpec, privateKeyOut, specFromSpki } from "./keys.ts";

Deno.test("generateKey() returns an SPKI that matches the exported private key", async () => {
  for (const [type, bits] of [["ec", 256], ["ec", 384], ["ed25519", 0]] as const) {
    const spec = keySpec(type, bits);
    const key = await generateKey(spec);
    assert.deepEqual(specFromSpki(key.spki), spec);
    const fromPrivate = createPublicKey(
      createPrivateKey({ key: Buffer.from(key.pkcs8), format: "der", type: "pkcs8" }),
    )
      .export({ format: "der", type: "spki" });
    assert.deepEqual(new Uint8Array(fromPrivate), key.spki, `${type} ${bits}`);
  }
});

Deno.test("privateKeyOut() prints SEC1, PKCS#1 and PKCS#8 as Vault does", async () => {
  const ec = keySpec("ec", 256);
  const ecKey = await generateKey(ec);
  const sec1 = privateKeyOut(ec, ecKey.pkcs8, "", false);
  assert.match(sec1, /^-----BEGIN EC PRIVATE KEY-----/);
  assert.equal(createPrivateKey(sec1).asymmetricKeyDetails?.namedCurve, "prime256v1");
  assert.match(privateKeyOut(ec, ecKey.pkcs8, "pkcs8", false), /^-----BEGIN PRIVATE KEY-----/);
  const rsa = keySpec("rsa", 2048);
  const rsaKey = await generateKey(rsa);
  const pkcs1 = privateKeyOut(rsa, rsaKey.pkcs8, "der", false);
  assert.match(pkcs1, /^-----BEGIN RSA PRIVATE KEY-----/);
  assert.equal(createPrivateKey(pkcs1).asymmetricKeyDetails?.modulusLength, 2048);
  assert.deepEqual(specFromSpki(rsaKey.spki), rsa);
  const ed = keySpec("ed25519", 0);
  assert.match(
    privateKeyOut(ed, (await generateKey(ed)).pkcs8, "", false),
    /^-----BEGIN PRIVATE KEY-----/,
  );
});

Deno.test("keySpec() refuses sizes the engine does not issue", () => {
  assert.deepEqual(keySpec("ec", 0), { type: "ec", bits: 256 });
  assert.deepEqual(keySpec("rsa", undefined), { type: "rsa", bits: 2048 });
  assert.throws(() => keySpec("ec", 521), /unsupported key_bits 521/);
  assert.throws(() => keySpec("rsa", 1024), /unsupported key_bits 1024/);
  assert.throws(() => keySpec("dsa", 0), /unsupported key_type/);
});

function spkiOf(
  type: "rsa" | "ec" | "ed25519",
  opts: Record<string, unknown>,
): Uint8Array<ArrayBuffer> {
  // deno-lint-ignore no-explicit-any
  const { publicKey } = generateKeyPairSync(type as any, opts);
  return new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
}

Deno.test("checkKeyStrength() refuses RSA under 2048 bits; specFromSpki() names refused curves", () => {
  for (const bits of [1024, 2047]) {
    const spec = specFromSpki(spkiOf("rsa", { modulusLength: bits }));
    assert.deepEqual(spec, { type: "rsa", bits });
    assert.throws(
      () => checkKeyStrength(spec),
      new RegExp(`^BadRequest: RSA keys must be at least 2048 bits \\(got ${bits}\\)$`),
    );
  }
  checkKeyStrength(specFromSpki(spkiOf("rsa", { modulusLength: 2048 })));
  checkKeyStrength(specFromSpki(spkiOf("ed25519", {})));
  checkKeyStrength(specFromSpki(spkiOf("ec", { namedCurve: "P-256" })));
  for (const curve of ["P-224", "P-521"]) {
    assert.throws(
      () => specFromSpki(spkiOf("ec", { namedCurve: curve })),
      new RegExp(`unsupported elliptic curve ${curve}: use P-256 or P-384`),
    );
  }
});
