import assert from "node:assert/strict";
import {
  endsTransaction,
  quoteIdentifier,
  renderTemplate,
  scrub,
  splitStatements,
} from "./statements.ts";

Deno.test("splitStatements() splits each item on ';' and drops blanks", () => {
  assert.deepEqual(
    splitStatements([
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}';  ;\n GRANT SELECT ON t TO "{{name}}";`,
      "  ",
      "SELECT 1",
    ]),
    [
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}'`,
      `GRANT SELECT ON t TO "{{name}}"`,
      "SELECT 1",
    ],
  );
});

Deno.test("splitStatements() keeps a dollar-quoted body whole", () => {
  const body = `DO $$ BEGIN CREATE ROLE "{{name}}"; GRANT r TO "{{name}}"; END $$;`;
  assert.deepEqual(splitStatements([body, "SELECT 1; SELECT 2"]), [body, "SELECT 1", "SELECT 2"]);
  // "$$" inside a string literal is not a body.
  assert.deepEqual(splitStatements(["SELECT '$$'; SELECT 2"]), ["SELECT '$$'", "SELECT 2"]);
});

Deno.test("renderTemplate() substitutes every occurrence as plain text", () => {
  assert.equal(
    renderTemplate(
      `CREATE ROLE "{{name}}" PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' -- {{name}} {{other}}`,
      {
        name: "v-x",
        password: "Pw-1",
        expiration: "2030-01-02 03:04:05+00",
      },
    ),
    `CREATE ROLE "v-x" PASSWORD 'Pw-1' VALID UNTIL '2030-01-02 03:04:05+00' -- v-x {{other}}`,
  );
});

Deno.test("quoteIdentifier() doubles embedded quotes", () => {
  assert.equal(quoteIdentifier('a"b'), '"a""b"');
});

Deno.test("scrub() removes secrets in raw, URL-encoded and SQL-quoted forms and URL passwords", () => {
  const pw = "p@ss'w/rd";
  const msg = `bad: ${pw} / ${
    encodeURIComponent(pw)
  } / p@ss''w/rd / postgresql://root:literal@h:5432/db`;
  const out = scrub(msg, [pw, undefined, ""]);
  assert.ok(!out.includes("ss'w") && !out.includes("ss''w") && !out.includes("literal"), out);
  assert.equal(out, "bad: ***** / ***** / ***** / postgresql://root:*****@h:5432/db");
});

Deno.test("scrub() masks a URL password up to the last '@' and query passwords", () => {
  assert.equal(
    scrub("at postgresql://u:Top@Secret99@127.0.0.1:5432/test: refused", []),
    "at postgresql://u:*****@127.0.0.1:5432/test: refused",
  );
  assert.equal(
    scrub("bad postgresql://h/db?user=x&password=Secret&sslpassword=K#f", []),
    "bad postgresql://h/db?user=x&password=*****&sslpassword=*****#f",
  );
  // A password given percent-encoded is also removed as the driver decodes it.
  assert.equal(scrub("for Top@Secret: no", ["Top%40Secret"]), "for *****: no");
});

Deno.test("scrub() masks a quoted piece of a secret, as PostgreSQL's 'at or near' quotes one", () => {
  const pw = "A1b-pCFFrA7.x9";
  assert.equal(
    scrub('syntax error at or near "pCFFrA7"', [pw]),
    'syntax error at or near "*****"',
  );
  // Quoted words that are no piece of a secret (or too short to tell) stay.
  assert.equal(
    scrub('role "v-token-web-1" does not exist at or near "x9"', [pw]),
    'role "v-token-web-1" does not exist at or near "x9"',
  );
});

/** [query as splitStatements gives it, whether it ends the transaction it runs in] */
const TRANSACTION_ENDS: [string, boolean][] = [
  ["COMMIT", true],
  ["end", true],
  ["  commit work", true],
  ["ROLLBACK", true],
  ["abort", true],
  ["PREPARE TRANSACTION 'x'", true],
  ["COMMIT PREPARED 'x'", true],
  ["-- done\nCOMMIT", true],
  ["/* done */ END", true],
  [`DO $$ BEGIN CREATE ROLE "{{name}}"; END $$; COMMIT;`, true],
  [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}'`, false],
  [`DO $$ BEGIN CREATE ROLE "{{name}}"; END $$;`, false],
  [`DO $body$ BEGIN IF true THEN NULL; END IF; END $body$`, false],
  ["SELECT 'x; commit'", false],
  ["-- commit\nSELECT 1", false],
  ["SELECT 1 AS ending", false],
  ["BEGIN", false],
  ["SAVEPOINT s", false],
];

Deno.test("endsTransaction() finds COMMIT, END, ROLLBACK and ABORT outside bodies, strings and comments", async (t) => {
  for (const [query, ends] of TRANSACTION_ENDS) {
    await t.step(query, () => assert.equal(endsTransaction(query), ends));
  }
});
