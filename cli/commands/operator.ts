/**
 * `operator init|unseal|seal|rotate|key-status`: the barrier's life cycle.
 * @module
 */
import { flagBool, flagInt } from "../../lib/flags.ts";
import { expectArgs } from "../args.ts";
import type { Command, Ctx } from "../command.ts";
import { UsageError } from "../errors.ts";
import { formatValue, json, type Row, table } from "../format.ts";
import { asObj, dataOf, printSuccess } from "../output.ts";
import { printSealStatus } from "./status.ts";

const init: Command = {
  name: "operator init",
  synopsis: "Initialize the server and print its unseal keys and root token",
  flags: { values: ["key-shares", "key-threshold"], booleans: ["status"] },
  async run(ctx) {
    expectArgs(ctx, 0);
    if (flagBool(ctx.parsed, "status")) {
      const res = await ctx.api("GET", "sys/init", undefined, { action: "checking init status" });
      const initialized = asObj(res.body).initialized === true;
      ctx.io.out(initialized ? "SecretHub is initialized" : "SecretHub is not initialized");
      return initialized ? 0 : 2;
    }
    const shares = flagInt(ctx.parsed, "key-shares") ?? 5;
    const threshold = flagInt(ctx.parsed, "key-threshold") ?? 3;
    const res = await ctx.api("PUT", "sys/init", {
      secret_shares: shares,
      secret_threshold: threshold,
    }, { action: "initializing" });
    const b = asObj(res.body);
    const b64 = Array.isArray(b.keys_base64) ? b.keys_base64.map(String) : [];
    const hex = Array.isArray(b.keys) ? b.keys.map(String) : [];
    if (ctx.format === "json") {
      ctx.io.out(json({
        unseal_keys_b64: b64,
        unseal_keys_hex: hex,
        unseal_shares: shares,
        unseal_threshold: threshold,
        root_token: b.root_token,
      }));
      return 0;
    }
    const lines = b64.map((k, i) => `Unseal Key ${i + 1}: ${k}`);
    ctx.io.out([
      ...lines,
      "",
      `Initial Root Token: ${b.root_token}`,
      "",
      `SecretHub initialized with ${shares} key shares and a key threshold of ${threshold}.`,
      "Keep the unseal keys apart from each other and from the root token. The server starts",
      `sealed after every restart and needs ${threshold} of these keys to unseal`,
      '("secrethub operator unseal"). Lost keys cannot be recovered.',
    ].join("\n"));
    return 0;
  },
};

const unseal: Command = {
  name: "operator unseal",
  args: "[KEY|-]",
  synopsis: "Submit one unseal key share (prompted, or read from stdin, if omitted)",
  flags: { booleans: ["reset"] },
  async run(ctx) {
    expectArgs(ctx, 0, 1);
    const reset = flagBool(ctx.parsed, "reset") ?? false;
    let body: Record<string, unknown> = { reset: true };
    if (!reset) {
      let key = ctx.args[0];
      if (key === undefined && ctx.io.stdinIsTerminal()) {
        key = await ctx.io.promptSecret("Unseal Key (will be hidden): ");
      } else if (key === undefined || key === "-") {
        key = await ctx.io.readStdin();
      }
      key = key.trim();
      if (!key) throw new UsageError("Missing unseal key");
      body = { key };
    }
    const res = await ctx.api("PUT", "sys/unseal", body, { action: "unsealing" });
    printSealStatus(ctx, res.body);
    return 0;
  },
};

const seal: Command = {
  name: "operator seal",
  synopsis: "Seal the server: drop its keys from memory until unsealed again",
  async run(ctx) {
    expectArgs(ctx, 0);
    await ctx.api("PUT", "sys/seal", undefined, { action: "sealing" });
    return printSuccess(ctx, "SecretHub is sealed.");
  },
};

function keyStatusRows(d: Record<string, unknown>): Row[] {
  const rows: Row[] = [
    ["Key Term", formatValue(d.term)],
    ["Install Time", formatValue(d.install_time)],
  ];
  if (d.encryptions !== undefined) rows.push(["Encryption Count", formatValue(d.encryptions)]);
  return rows;
}

async function printKeyStatus(ctx: Ctx, prefix?: string): Promise<number> {
  const res = await ctx.api("GET", "sys/key-status", undefined, {
    action: "reading key status",
  });
  const d = dataOf(res.body);
  if (ctx.format === "json") {
    ctx.io.out(json(d));
  } else {
    ctx.io.out((prefix ? `${prefix}\n\n` : "") + table(keyStatusRows(d)));
  }
  return 0;
}

const rotate: Command = {
  name: "operator rotate",
  synopsis: "Add a new encryption key term; older terms stay for decryption",
  async run(ctx) {
    expectArgs(ctx, 0);
    await ctx.api("PUT", "sys/rotate", undefined, { action: "rotating key" });
    return printKeyStatus(ctx, "Success! Rotated key");
  },
};

const keyStatus: Command = {
  name: "operator key-status",
  synopsis: "Show the current encryption key term and its install time",
  run(ctx) {
    expectArgs(ctx, 0);
    return printKeyStatus(ctx);
  },
};

export const operatorCommands: Command[] = [init, unseal, seal, rotate, keyStatus];
