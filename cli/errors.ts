/**
 * CLI failures and their exit codes, following Vault: 1 for local problems (flags, arguments,
 * files, an unknown subcommand of a known group), 2 for anything the server or the network
 * refused, 127 for an unknown command.
 * @module
 */
import { withoutQuery } from "../lib/client.ts";

export const EXIT_OK = 0;
export const EXIT_LOCAL = 1;
export const EXIT_REMOTE = 2;
export const EXIT_UNKNOWN_COMMAND = 127;

export class CliError extends Error {
  override name = "CliError";
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT_LOCAL) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Bad flags or arguments; the message is followed by a pointer to the command's help. */
export class UsageError extends CliError {
  override name = "UsageError";
}

/** A non-2xx answer from the server. */
export class ApiError extends CliError {
  override name = "ApiError";
  readonly status: number;
  readonly errors: string[];

  constructor(action: string, method: string, url: string, status: number, body: unknown) {
    const errors = errorsOf(body);
    // A 404 from a KV v2 mount written as v1 says why only in `warnings` (as Vault's does).
    const why = errors.length ? errors : warningsOf(body);
    const detail = why.length ? why.join("; ") : "no error message returned";
    super(
      `Error ${action}: ${detail} (Code: ${status}, ${method} ${withoutQuery(url)})`,
      EXIT_REMOTE,
    );
    this.status = status;
    this.errors = errors;
  }
}

/** The `errors` list of a Vault error body, or the raw text when the body is not JSON. */
export function errorsOf(body: unknown): string[] {
  if (typeof body === "string") return body.trim() ? [body.trim()] : [];
  if (body && typeof body === "object" && Array.isArray((body as { errors?: unknown }).errors)) {
    return (body as { errors: unknown[] }).errors.map(String);
  }
  return [];
}

/** The `warnings` list of a reply envelope. */
export function warningsOf(body: unknown): string[] {
  const w = body && typeof body === "object" ? (body as { warnings?: unknown }).warnings : null;
  return Array.isArray(w) ? w.map(String) : [];
}

/** The stderr line for a failure: API errors already read "Error <action>: ...". */
export function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.startsWith("Error ") ? message : `Error: ${message}`;
}
