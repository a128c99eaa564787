/** Template failures. Messages name the place and the secret path/field, never a secret value. */

/** The template text is malformed; `line`/`column` are 1-based. */
export class TemplateSyntaxError extends SyntaxError {
  readonly line: number;
  readonly column: number;
  constructor(detail: string, line: number, column: number) {
    super(`Invalid template at ${line}:${column}: ${detail}`);
    this.name = "TemplateSyntaxError";
    this.line = line;
    this.column = column;
  }
}

/**
 * Rendering failed: a secret or field is missing (and no `default` applies), a filter could not
 * transform the value, or the output is too large. The previous rendered file must stay in place.
 */
export class TemplateRenderError extends Error {
  readonly path: string | undefined;
  readonly field: string | undefined;
  readonly line: number;
  readonly column: number;
  constructor(
    detail: string,
    where: { line: number; column: number; path?: string; field?: string | undefined },
  ) {
    super(`Cannot render template at ${where.line}:${where.column}: ${detail}`);
    this.name = "TemplateRenderError";
    this.path = where.path;
    this.field = where.field;
    this.line = where.line;
    this.column = where.column;
  }
}
