/** `version`. @module */
import type { Command } from "../command.ts";

export const VERSION = "0.1.0";

export const versionCommand: Command = {
  name: "version",
  synopsis: "Print the SecretHub version",
  run(ctx) {
    ctx.io.out(`SecretHub v${VERSION}`);
    return Promise.resolve(0);
  },
};
