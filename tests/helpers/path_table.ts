/**
 * Calls a path table the way the core's pipeline does — route match, create-vs-update existence
 * check, input schema — for unit tests of an auth method or engine without HTTP.
 */
import { matchPath } from "../../core/router/match.ts";
import type { CompiledPath, CoreRequest, CoreResponse } from "../../core/router/types.ts";
import type { Operation } from "../../engines/sdk.ts";
import assert from "node:assert/strict";
import { BadRequest, HttpError } from "../../lib/errors.ts";
import { parseWith } from "../../lib/fields.ts";

export type Op = "read" | "write" | "delete" | "list";

export async function callPath(
  table: CompiledPath[],
  mountPath: string,
  op: Op,
  path: string,
  data: Record<string, unknown> = {},
  remoteAddress = "127.0.0.1",
): Promise<CoreResponse | void> {
  const full = op === "list" && !path.endsWith("/") ? path + "/" : path;
  const hit = matchPath(table, full);
  if (!hit) throw new Error(`no route for ${full}`);
  const spec = hit.compiled.spec;
  const base = {
    path: full,
    params: hit.params,
    data,
    remoteAddress,
    tokenAccessor: "",
    requestId: "req",
  };
  let operation: Operation = op === "write" ? "update" : op;
  if (op === "write") {
    const ops = spec.operations;
    if (ops.create && ops.update && spec.exists) {
      operation = await spec.exists({ ...base, operation: "update" }) ? "update" : "create";
    } else if (!ops.update) operation = "create";
  }
  const handler = spec.operations[operation];
  if (!handler) throw new Error(`${operation} not supported on ${full}`);
  const schema = spec.input?.[operation] ??
    (operation === "create" || operation === "update" ? spec.input?.write : undefined);
  const req: CoreRequest = {
    ...base,
    operation,
    data: schema
      ? parseWith(schema, data, (m) => new BadRequest(m)) as Record<string, unknown>
      : data,
    token: null,
    clientToken: "",
    headers: new Headers(),
    fullPath: `${mountPath}${full}`,
  };
  return await handler(req);
}

/** The HttpError a call rejected with (fails the test if it resolved or threw something else). */
export async function rejection(p: Promise<unknown>): Promise<HttpError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof HttpError, `expected an HttpError, got ${e}`);
    return e;
  }
  assert.fail("expected a rejection");
}
