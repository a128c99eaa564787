/** The ceiling: a bare Hono hello-world on the same runtime, served the same way as the core. */
import { Hono } from "hono";

const port = Number(Deno.args[0] ?? "8299");
const app = new Hono();
app.get("/", (c) => c.text("hello"));
Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, app.fetch);
