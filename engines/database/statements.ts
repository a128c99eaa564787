/**
 * SQL statement handling as Vault's PostgreSQL plugin does it: plain `{{key}}` substitution,
 * each configured statement split on ";" unless it holds a dollar-quoted body, and error text
 * scrubbed of every secret before it can reach a client.
 */

/** `$$` outside single-quoted literals marks a body (DO block, function) that must not be split. */
function isMultiline(stmt: string): boolean {
  return stmt.replace(/'.*?'/gs, "").includes("$$");
}

/**
 * The queries to run for a role's statement list: every item split on ";" (Vault's
 * `ParseArbitraryStringSlice`), blanks dropped; an item with a `$$` body is run whole.
 */
export function splitStatements(statements: string[]): string[] {
  const out: string[] = [];
  for (const stmt of statements) {
    if (isMultiline(stmt)) {
      if (stmt.trim()) out.push(stmt);
      continue;
    }
    for (const part of stmt.split(";")) {
      const q = part.trim();
      if (q) out.push(q);
    }
  }
  return out;
}

/** A statement that ends the open transaction: COMMIT/END commit it, ROLLBACK/ABORT drop it. */
const ENDS_TRANSACTION = /^(?:commit|end|rollback|abort|prepare\s+transaction)\b/i;

/**
 * Whether a query from {@link splitStatements} ends the transaction it runs in, so that work
 * before it is committed, or work after it commits alone. Dollar-quoted bodies, comments and
 * string literals are set aside first (a body's `END` closes a block, not the transaction).
 */
export function endsTransaction(query: string): boolean {
  const outside = query
    .replace(/\$([A-Za-z_]\w*)?\$[\s\S]*?\$\1\$/g, " ")
    .replace(/'(?:[^']|'')*'/g, "''")
    .replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, " ");
  return outside.split(";").some((part) => ENDS_TRANSACTION.test(part.trim()));
}

/**
 * Replaces `{{key}}` by its value, as Vault's `dbutil.QueryHelper` does: no quoting, so the
 * values (generated names, passwords and timestamps) contain only characters that are safe
 * inside the quotes the statement itself provides.
 */
export function renderTemplate(tpl: string, values: Record<string, string>): string {
  let out = tpl;
  for (const [k, v] of Object.entries(values)) out = out.replaceAll(`{{${k}}}`, v);
  return out;
}

/** `"name"` with embedded quotes doubled (Vault's `dbutil.QuoteIdentifier`). */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Error text safe to return: every secret (raw, URL-encoded, percent-decoded and SQL-quoted
 * forms) and any URL password (user info up to the last "@", or a `password`/`sslpassword`
 * query parameter) replaced. Driver errors may quote the connection string or the statement
 * that failed, and both can hold a password.
 */
export function scrub(message: string, secrets: (string | undefined)[]): string {
  let out = message.replace(
    /(\w+:\/\/)([^\s/?#]*)@/g,
    (all, head: string, userInfo: string) => {
      const colon = userInfo.indexOf(":");
      return colon < 0 ? all : `${head}${userInfo.slice(0, colon)}:*****@`;
    },
  ).replace(/([?&](?:ssl)?password=)[^&#\s]*/gi, "$1*****");
  const forms = new Set<string>();
  for (const s of secrets) {
    if (!s) continue;
    forms.add(s);
    forms.add(encodeURIComponent(s));
    forms.add(decoded(s));
    forms.add(s.replaceAll("'", "''"));
  }
  forms.delete("");
  // Longest first, so a secret that contains another is replaced whole.
  for (const f of [...forms].sort((a, b) => b.length - a.length)) {
    out = out.replaceAll(f, "*****");
  }
  // PostgreSQL quotes the token it stopped at ("syntax error at or near "pCFFrA7""), which can be
  // a piece of a secret (an unquoted {{password}} splits at its punctuation): a quoted piece of
  // three characters or more of any form of a secret goes too.
  return out.replace(/"([^"]{3,})"/g, (all, piece: string) => {
    for (const f of forms) if (f.includes(piece)) return '"*****"';
    return all;
  });
}
