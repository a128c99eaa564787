/** Entry for the bundled agent the bench runs (see bench/agent.ts bundleAgent). */
import { runAgent } from "../agent/mod.ts";

Deno.exit(await runAgent(Deno.args.slice(1)));
