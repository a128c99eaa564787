import assert from "node:assert/strict";
import { certInfo, p256Csr } from "../../lib/x509_lite.ts";

async function openssl(args: string[], stdin: string): Promise<{ ok: boolean; out: string }> {
  const p = new Deno.Command("openssl", { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const w = p.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const o = await p.output();
  const dec = new TextDecoder();
  return { ok: o.success, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

Deno.test("x509 lite: the P-256 CSR verifies with openssl and carries the CN", async () => {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const csr = await p256Csr("edge-7.example", keys);
  const r = await openssl(["req", "-verify", "-noout", "-subject"], csr);
  assert.ok(r.ok, r.out);
  assert.match(r.out, /verify OK/i);
  assert.match(r.out, /CN\s*=\s*edge-7\.example/);
  // A flipped bit in the signed part must fail verification (the check can fail).
  const b64 = csr.split("\n").filter((l) => l && !l.startsWith("-----")).join("");
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  bytes[40] ^= 0x01;
  const bad = `-----BEGIN CERTIFICATE REQUEST-----\n${
    btoa(String.fromCharCode(...bytes)).match(/.{1,64}/g)!.join("\n")
  }\n-----END CERTIFICATE REQUEST-----\n`;
  assert.equal((await openssl(["req", "-verify", "-noout"], bad)).ok, false);
});

Deno.test("x509 lite: serial and validity match what openssl reads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const gen = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${dir}/k.pem`,
        "-out",
        `${dir}/c.pem`,
        "-days",
        "30",
        "-subj",
        "/CN=t",
        "-set_serial",
        "0x00f3a1b2c3d4e5f60718293a4b5c6d7e",
      ],
      stderr: "null",
    }).output();
    assert.ok(gen.success);
    const pem = await Deno.readTextFile(`${dir}/c.pem`);
    const info = certInfo(pem);
    const r = await openssl(["x509", "-noout", "-serial", "-startdate", "-enddate"], pem);
    const serial = /serial=([0-9A-F]+)/.exec(r.out)![1]!.toLowerCase().replace(/^0+/, "");
    assert.equal(info.serial, serial);
    const nb = Date.parse(/notBefore=(.*)/.exec(r.out)![1]!);
    const na = Date.parse(/notAfter=(.*)/.exec(r.out)![1]!);
    assert.equal(info.notBefore, nb);
    assert.equal(info.notAfter, na);
    assert.equal(Math.round((na - nb) / 86400_000), 30);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
