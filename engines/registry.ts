/** Engine types that can be mounted. Adding an engine = one folder + one line here. */
import type { EngineFactory } from "./sdk.ts";
import { databaseFactory } from "./database/mod.ts";
import { kvFactory } from "./kv/mod.ts";
import { pkiFactory } from "./pki/mod.ts";

export const ENGINES: Record<string, EngineFactory> = {
  database: databaseFactory,
  kv: kvFactory,
  pki: pkiFactory,
};
