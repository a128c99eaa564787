/** Pure pieces of the identity code: serials, identity URIs, and renew-proof signatures. */
import assert from "node:assert/strict";
import { canonicalSerial, colonSerial } from "../../core/identity/serial.ts";
import { identityFromSan, identityUri } from "../../core/identity/identity_uri.ts";
import { derToRawEcdsa, renewMessage } from "../../core/identity/renew_proof.ts";
import { sha256Hex } from "../../lib/crypto.ts";

const SERIALS: [string, string][] = [
  ["00:ff:01", "ff01"],
  ["FF01", "ff01"],
  ["0f-01", "f01"],
  ["3a:6d:93", "3a6d93"],
];

Deno.test("canonicalSerial() maps every printed form of one serial to the same string", () => {
  for (const [input, want] of SERIALS) assert.equal(canonicalSerial(input), want, input);
  assert.equal(colonSerial("f01"), "0f:01");
  assert.throws(() => canonicalSerial("zz"), /invalid serial/);
  assert.throws(() => canonicalSerial(""), /invalid serial/);
});

Deno.test("identityFromSan() accepts exactly one well-formed identity URI", () => {
  assert.deepEqual(identityFromSan("URI:urn:secrethub:app:abc-1"), { kind: "app", id: "abc-1" });
  assert.deepEqual(identityFromSan("DNS:x, URI:urn:secrethub:agent:a1"), {
    kind: "agent",
    id: "a1",
  });
  assert.equal(identityFromSan(undefined), null);
  assert.equal(identityFromSan("DNS:x"), null);
  assert.equal(
    identityFromSan("URI:urn:secrethub:app:a, URI:urn:secrethub:app:b"),
    null,
    "two identities",
  );
  assert.equal(identityFromSan("URI:urn:secrethub:user:a"), null, "unknown kind");
  assert.equal(identityFromSan("URI:urn:secrethub:app:a/b"), null, "bad id");
  assert.equal(identityUri("app", "x"), "urn:secrethub:app:x");
  assert.throws(() => identityUri("app", "../x"));
});

Deno.test("renewMessage() binds the CSR's hash and the timestamp", () => {
  assert.equal(renewMessage("CSR", 42), `secrethub-renew\n${sha256Hex("CSR")}\n42`);
});

Deno.test("derToRawEcdsa() converts WebCrypto-equivalent signatures and rejects malformed DER", async () => {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
    "sign",
    "verify",
  ]);
  const msg = new TextEncoder().encode("m");
  const raw = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, msg),
  );
  // Build the DER form by hand and convert it back.
  const int = (b: Uint8Array) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b.subarray(i);
    const body = v[0]! & 0x80 ? [0, ...v] : [...v];
    return [0x02, body.length, ...body];
  };
  const seq = [...int(raw.subarray(0, 32)), ...int(raw.subarray(32))];
  const der = new Uint8Array([0x30, seq.length, ...seq]);
  const back = derToRawEcdsa(der, 32);
  assert.deepEqual(back, raw);
  assert.equal(derToRawEcdsa(der.subarray(0, der.length - 1), 32), null);
  assert.equal(derToRawEcdsa(new Uint8Array([0x31, 0]), 32), null);
  assert.equal(derToRawEcdsa(new Uint8Array([0x30, 6, 0x02, 1, 1, 0x02, 1, 1, 0]), 32), null);
});
