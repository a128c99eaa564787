/**
 * `login [TOKEN|-]`: checks a token against the server, then stores it in the token helper
 * file so later commands send it without SECRETHUB_TOKEN.
 * @module
 */
import { resolveEnv, tokenFilePath, writeTokenFile } from "../../lib/client.ts";
import { flagBool, flagString } from "../../lib/flags.ts";
import { expectArgs } from "../args.ts";
import { type Command, FIELD_FLAG } from "../command.ts";
import { CliError, UsageError } from "../errors.ts";
import { asObj, authFields, dataOf, printSecret } from "../output.ts";

export const loginCommand: Command = {
  name: "login",
  args: "[TOKEN|-]",
  synopsis: "Verify a token and store it in ~/.secrethub-token",
  flags: { values: [FIELD_FLAG], booleans: ["no-store"] },
  async run(ctx) {
    let token = expectArgs(ctx, 0, 1)[0];
    if (token === undefined && ctx.io.stdinIsTerminal()) {
      token = await ctx.io.promptSecret("Token (will be hidden): ");
    } else if (token === undefined || token === "-") {
      token = await ctx.io.readStdin();
    }
    token = token.trim();
    if (!token) throw new UsageError("Missing token");

    const res = await ctx.api("GET", "auth/token/lookup-self", undefined, {
      action: "looking up token",
      headers: { "X-Vault-Token": token },
    });
    const d = dataOf(res.body);
    const noStore = flagBool(ctx.parsed, "no-store") ?? false;
    if (!noStore) {
      const path = tokenFilePath(ctx.env);
      if (!path) throw new CliError("Cannot store the token: HOME is not set (use -no-store)");
      await writeTokenFile(path, token);
    }

    const own = Array.isArray(d.policies) ? d.policies : [];
    const identity = Array.isArray(d.identity_policies) ? d.identity_policies : [];
    const auth = {
      client_token: token,
      accessor: d.accessor,
      lease_duration: d.ttl,
      renewable: d.renewable,
      token_policies: own,
      identity_policies: identity,
      policies: [...new Set([...own, ...identity])].sort(),
      metadata: d.meta,
    };

    const env = resolveEnv(ctx.env, { address: flagString(ctx.parsed, "address") });
    if (env.token) {
      const name = env.source === "vault" ? "VAULT_TOKEN" : "SECRETHUB_TOKEN";
      ctx.io.err(
        `WARNING! The ${name} environment variable is set. It takes precedence over the ` +
          `stored token; unset it if that is not what you want.`,
      );
    }
    if (ctx.format === "table" && ctx.field === undefined) {
      ctx.io.out(
        noStore
          ? "Success! The token is valid. It was NOT stored (-no-store).\n"
          : "Success! You are now authenticated. The token below is stored in the token\n" +
            "helper file; future requests will use it automatically.\n",
      );
    }
    return printSecret(ctx, { ...asObj(res.body), auth }, authFields(auth));
  },
};
