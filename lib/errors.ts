/**
 * The one error family. Every failure that reaches a client is an HttpError subclass;
 * core/http/errors.ts turns it into a status and a Vault-style `{"errors":[...]}` body.
 * Anything else becomes a 500 "internal error" whose detail is never returned.
 */
export class HttpError extends Error {
  readonly status: number;
  readonly errors: string[];
  /** Vault returns data alongside some errors (e.g. KV v2 metadata on a deleted version). */
  readonly data?: Record<string, unknown>;
  readonly headers?: Record<string, string>;

  constructor(
    status: number,
    errors: string[] | string,
    opts: { data?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } =
      {},
  ) {
    const list = typeof errors === "string" ? [errors] : errors;
    super(list.join("; ") || `HTTP ${status}`, { cause: opts.cause });
    this.name = new.target.name;
    this.status = status;
    this.errors = list;
    this.data = opts.data;
    this.headers = opts.headers;
  }
}

export class BadRequest extends HttpError {
  constructor(msg: string | string[], opts?: ConstructorParameters<typeof HttpError>[2]) {
    super(400, msg, opts);
  }
}
export class PermissionDenied extends HttpError {
  constructor(msg: string | string[] = "permission denied") {
    super(403, msg);
  }
}
export class NotFound extends HttpError {
  constructor(msg: string | string[] = [], opts?: ConstructorParameters<typeof HttpError>[2]) {
    super(404, msg, opts);
  }
}
export class MethodNotAllowed extends HttpError {
  constructor(msg: string | string[] = "unsupported operation") {
    super(405, msg);
  }
}
/** The client did not send its whole request in time (a body trickled in past the deadline). */
export class RequestTimeout extends HttpError {
  constructor(msg: string | string[] = "request timed out") {
    // The rest of the body is never read: the connection cannot carry another request.
    super(408, msg, { headers: { connection: "close" } });
  }
}
export class Conflict extends HttpError {
  constructor(msg: string | string[]) {
    super(409, msg);
  }
}
export class PreconditionFailed extends HttpError {
  constructor(msg: string | string[]) {
    super(412, msg);
  }
}
export class PayloadTooLarge extends HttpError {
  constructor(msg: string | string[] = "request body too large") {
    super(413, msg);
  }
}
export class UnsupportedMediaType extends HttpError {
  constructor(msg: string | string[]) {
    super(415, msg);
  }
}
export class TooManyRequests extends HttpError {
  constructor(msg: string | string[], retryAfterSeconds?: number) {
    super(429, msg, {
      headers: retryAfterSeconds ? { "retry-after": String(retryAfterSeconds) } : undefined,
    });
  }
}
export class InternalError extends HttpError {
  constructor(msg: string | string[] = "internal error", cause?: unknown) {
    super(500, msg, { cause });
  }
}
export class Sealed extends HttpError {
  constructor(msg: string | string[] = "Vault is sealed") {
    super(503, msg);
  }
}
export class ServiceUnavailable extends HttpError {
  constructor(msg: string | string[]) {
    super(503, msg);
  }
}
