/** `version`: `SecretHub vX.Y.Z`, or `{"name", "version"}` as JSON with -format=json. @module */
import type { Command } from "../command.ts";
import { json } from "../format.ts";

export const VERSION = "0.1.0";

export const versionCommand: Command = {
  name: "version",
  synopsis: "Print the SecretHub version (-format=json: name and version as JSON)",
  run(ctx) {
    ctx.io.out(
      ctx.format === "json"
        ? json({ name: "SecretHub", version: VERSION })
        : `SecretHub v${VERSION}`,
    );
    return Promise.resolve(0);
  },
};
