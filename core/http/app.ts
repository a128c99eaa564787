/** The Hono app: everything under /v1/ goes through the one pipeline. */
import { Hono } from "hono";
import type { Core } from "../core.ts";
import { Pipeline } from "./pipeline.ts";

export type AppEnv = { Bindings: { remoteAddr?: string } };

export function buildApp(core: Core): Hono<AppEnv> {
  const pipeline = new Pipeline(core);
  const app = new Hono<AppEnv>();
  app.all("/v1/*", (c) => pipeline.handle(c.req.raw, c.env?.remoteAddr ?? ""));
  app.notFound(() =>
    new Response(JSON.stringify({ errors: [] }), {
      status: 404,
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    })
  );
  return app;
}
