import assert from "node:assert/strict";
import { hasLiteralPassword, literalPasswords, maskUrl } from "./postgres.ts";

/** [stored connection_url, what a read shows, the literal passwords error text must not show] */
const URLS: [string, string, string[]][] = [
  [
    "postgresql://{{username}}:{{password}}@127.0.0.1:5432/test?sslmode=disable",
    "postgresql://{{username}}:{{password}}@127.0.0.1:5432/test?sslmode=disable",
    [],
  ],
  [
    "postgresql://%7B%7Busername%7D%7D:%7B%7Bpassword%7D%7D@h/db",
    "postgresql://%7B%7Busername%7D%7D:%7B%7Bpassword%7D%7D@h/db",
    [],
  ],
  ["postgresql://u:p@h:5432/db", "postgresql://u:*****@h:5432/db", ["p"]],
  ["postgres://u@h/db", "postgres://u@h/db", []],
  ["postgres://u:@h/db", "postgres://u:@h/db", []],
  // The last "@" ends the user info (WHATWG and Go's url.Parse alike).
  [
    "postgresql://u:Top@Secret99@127.0.0.1:5432/test",
    "postgresql://u:*****@127.0.0.1:5432/test",
    ["Top@Secret99"],
  ],
  [
    "postgresql://u:Top%40Secret@h/db?sslmode=disable",
    "postgresql://u:*****@h/db?sslmode=disable",
    ["Top%40Secret", "Top@Secret"],
  ],
  [
    "postgresql://127.0.0.1:5432/test?user=x&password=Secret&sslmode=disable",
    "postgresql://127.0.0.1:5432/test?user=x&password=*****&sslmode=disable",
    ["Secret"],
  ],
  [
    "postgresql://h/db?sslmode=require&sslpassword=K%2By+z",
    "postgresql://h/db?sslmode=require&sslpassword=*****",
    ["K%2By+z", "K+y z", "K+y+z"],
  ],
  [
    "postgresql://h/db?user={{username}}&password={{password}}",
    "postgresql://h/db?user={{username}}&password={{password}}",
    [],
  ],
  ["postgresql://h/db?password=&user=x", "postgresql://h/db?password=&user=x", []],
  // Both places at once; a "#" in a query password leaves its tail in the fragment.
  [
    "postgresql://u:{{password}}@h/db?password=a#b",
    "postgresql://u:{{password}}@h/db?password=*****#*****",
    ["a"],
  ],
];

Deno.test("maskUrl() masks every literal password whole and nothing else", async (t) => {
  for (const [url, shown] of URLS) {
    await t.step(url, () => assert.equal(maskUrl(url), shown));
  }
});

Deno.test("literalPasswords() finds user info and query passwords, raw and decoded", async (t) => {
  for (const [url, , secrets] of URLS) {
    await t.step(url, () => {
      assert.deepEqual(literalPasswords(url).sort(), [...secrets].sort());
      assert.equal(hasLiteralPassword(url), secrets.length > 0);
    });
  }
});
