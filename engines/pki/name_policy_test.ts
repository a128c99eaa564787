import assert from "node:assert/strict";
import { enforceRole, globMatch, nameAllowed } from "./name_policy.ts";
import { ROLE_DEFAULTS, type RoleRecord } from "./role.ts";

function role(over: Partial<RoleRecord>): RoleRecord {
  return { ...ROLE_DEFAULTS, ...over };
}

const GLOBS: [string, string, boolean][] = [
  ["*.example.com", "a.example.com", true],
  ["*.example.com", "a.b.example.com", true],
  ["*.example.com", "example.com", false],
  ["api-*.example.com", "api-1.example.com", true],
  ["api-*.example.com", "web-1.example.com", false],
  ["spiffe://example.com/*", "spiffe://example.com/ns/a", true],
  ["a*b*c", "abc", true],
  ["a*b*c", "acb", false],
  ["exact", "exact", true],
];

Deno.test("globMatch() follows go-glob: * spans anything, nothing else is special", () => {
  for (const [p, s, want] of GLOBS) assert.equal(globMatch(p, s), want, `${p} ~ ${s}`);
});

Deno.test("nameAllowed() applies bare, subdomain, glob, wildcard and localhost rules", () => {
  const sub = role({ allowed_domains: ["example.com"], allow_subdomains: true });
  assert.ok(nameAllowed(sub, "a.example.com"));
  assert.ok(nameAllowed(sub, "A.Example.COM"));
  assert.ok(nameAllowed(sub, "*.example.com"));
  assert.ok(!nameAllowed(sub, "example.com"));
  assert.ok(!nameAllowed(sub, "badexample.com"));
  assert.ok(!nameAllowed(sub, "a.example.com.evil.org"));
  assert.ok(nameAllowed(sub, "localhost"));
  assert.ok(!nameAllowed(role({ ...sub, allow_localhost: false }), "localhost"));
  assert.ok(!nameAllowed(role({ ...sub, allow_wildcard_certificates: false }), "*.example.com"));
  assert.ok(nameAllowed(sub, "ops@a.example.com"));

  const bare = role({ allowed_domains: ["example.com"], allow_bare_domains: true });
  assert.ok(nameAllowed(bare, "example.com"));
  assert.ok(!nameAllowed(bare, "a.example.com"));
  // A wildcard covers subdomains, so a bare-only role may not issue one.
  assert.ok(!nameAllowed(bare, "*.example.com"));

  const glob = role({ allowed_domains: ["api-*.example.com"], allow_glob_domains: true });
  assert.ok(nameAllowed(glob, "api-eu.example.com"));
  assert.ok(!nameAllowed(glob, "web.example.com"));

  const any = role({ allow_any_name: true });
  assert.ok(nameAllowed(any, "anything.test"));
  assert.ok(!nameAllowed(any, "not a hostname"));
  assert.ok(
    nameAllowed(role({ allow_any_name: true, enforce_hostnames: false }), "not a hostname"),
  );
  // Without hostname enforcement a "*" in the middle must not pass as a subdomain.
  const loose = role({
    allowed_domains: ["example.com"],
    allow_subdomains: true,
    enforce_hostnames: false,
  });
  assert.ok(!nameAllowed(loose, "a*.example.com"));
});

Deno.test("enforceRole() reports the first refused name with Vault's wording", () => {
  const r = role({
    allowed_domains: ["example.com"],
    allow_subdomains: true,
    allow_ip_sans: false,
  });
  const base = { commonName: "a.example.com", dns: [], email: [], ip: [], uri: [] };
  enforceRole(r, base);
  assert.throws(() => enforceRole(r, { ...base, commonName: "x.org" }), {
    message: "common name x.org not allowed by this role",
  });
  assert.throws(() => enforceRole(r, { ...base, dns: ["b.example.com", "y.org"] }), {
    message: "subject alternative name y.org not allowed by this role",
  });
  assert.throws(
    () => enforceRole(r, { ...base, ip: ["10.0.0.1"] }),
    /IP Subject Alternative Names/,
  );
  assert.throws(() => enforceRole(r, { ...base, uri: ["urn:x"] }), /URI Subject Alternative Names/);
});

Deno.test("nameAllowed() applies DNS lengths (labels 1-63, names ≤ 253) under enforce_hostnames", () => {
  const r = role({ allowed_domains: ["example.com"], allow_subdomains: true });
  const label = (n: number) => "a".repeat(n);
  assert.ok(nameAllowed(r, `${label(63)}.example.com`));
  assert.ok(!nameAllowed(r, `${label(64)}.example.com`));
  assert.ok(!nameAllowed(r, `*.${label(64)}.example.com`));
  assert.ok(!nameAllowed(r, `ops@${label(64)}.example.com`));
  // Labels of 63, 63, 63 and 49 under "example.com": exactly 253 characters, then one over.
  const at253 = `${label(63)}.${label(63)}.${label(63)}.${label(49)}.example.com`;
  assert.equal(at253.length, 253);
  assert.ok(nameAllowed(r, at253));
  assert.ok(!nameAllowed(r, "a" + at253));
  const any = role({ allow_any_name: true });
  assert.ok(nameAllowed(any, at253 + "."));
  assert.ok(!nameAllowed(any, "a" + at253 + "."));
  assert.ok(!nameAllowed(r, `a..example.com`));
  // Only with enforce_hostnames, as in Vault.
  assert.ok(nameAllowed(role({ ...r, enforce_hostnames: false }), `${label(64)}.example.com`));
});

Deno.test("nameAllowed() takes an email with one '@' and a plain local part only", () => {
  const sub = role({ allowed_domains: ["example.com"], allow_subdomains: true });
  assert.ok(nameAllowed(sub, "ops.team+x@a.example.com"));
  // The domain check saw the part after the last "@"; a C-string reader sees "admin@evil.com".
  for (
    const name of [
      "admin@evil.com\u0000@a.example.com",
      "admin@evil.com@a.example.com",
      '"evil@evil.com"@a.example.com',
      "a b@a.example.com",
      "@a.example.com",
      "\u00e4dmin@a.example.com",
    ]
  ) assert.ok(!nameAllowed(sub, name), JSON.stringify(name));
  const bare = role({ allowed_domains: ["example.com"], allow_bare_domains: true });
  assert.ok(!nameAllowed(bare, "a@evil.com@example.com"));
});

Deno.test("nameAllowed() refuses any '*' when wildcards are off, allow_any_name too", () => {
  const any = role({
    allow_any_name: true,
    enforce_hostnames: false,
    allow_wildcard_certificates: false,
  });
  for (const name of ["*.example.com", "f*.example.com", "*example.com", "*", "a.*.com"]) {
    assert.ok(!nameAllowed(any, name), name);
  }
  assert.ok(nameAllowed(any, "anything goes"));
  assert.ok(nameAllowed(role({ ...any, allow_wildcard_certificates: true }), "f*.example.com"));
});
