/**
 * Calls an engine's path handlers in-process, without HTTP, ACL or audit: core's own use of an
 * engine instance (the identity PKI). Inputs still go through each path's schema, so defaults and
 * conversions are exactly what an HTTP caller would get.
 */
import { BadRequest, NotFound } from "../../lib/errors.ts";
import { parseWith } from "../../lib/fields.ts";
import type { EngineResponse, Handler, Operation, StorageView } from "../../engines/sdk.ts";
import { ENGINES } from "../../engines/registry.ts";
import { compilePaths, matchPath } from "../router/match.ts";
import type { CompiledPath, CorePathSpec } from "../router/types.ts";

export class EngineDispatch {
  readonly #table: CompiledPath[];

  constructor(type: string, storage: StorageView, mountPath: string, now: () => number) {
    const factory = ENGINES[type];
    if (!factory) throw new Error(`unknown engine type: ${type}`);
    const engine = factory({
      storage,
      mount: { path: mountPath, uuid: mountPath, type, options: {} },
      now,
    });
    this.#table = compilePaths(engine.paths as CorePathSpec[]);
  }

  async call(
    operation: Operation,
    path: string,
    data: Record<string, unknown> = {},
  ): Promise<EngineResponse> {
    const hit = matchPath(this.#table, path);
    // Engine handlers take the plain EngineRequest; the table is only typed as core's.
    const handler = hit?.compiled.spec.operations[operation] as Handler | undefined;
    if (!hit || !handler) throw new NotFound(`internal engine path not found: ${path}`);
    const input = hit.compiled.spec.input;
    const schema = input?.[operation] ??
      (operation === "create" || operation === "update" ? input?.write : undefined);
    const parsed = schema
      ? parseWith(schema, data, (m) => new BadRequest(m)) as Record<string, unknown>
      : data;
    return await handler({
      operation,
      path,
      params: hit.params,
      data: parsed,
      remoteAddress: "",
      tokenAccessor: "",
      requestId: crypto.randomUUID(),
    }) ?? {};
  }
}
