/**
 * `policy write|read|list|delete`, over `sys/policies/acl/*` (the path Vault's CLI uses).
 * @module
 */
import { expectArgs } from "../args.ts";
import type { Command, Ctx } from "../command.ts";
import { UsageError } from "../errors.ts";
import { json } from "../format.ts";
import { dataOf, keysOf, printSuccess } from "../output.ts";
import { encodePath } from "../paths.ts";

async function readSource(ctx: Ctx, src: string): Promise<string> {
  if (src === "-") return await ctx.io.readStdin();
  try {
    return await Deno.readTextFile(src);
  } catch (err) {
    throw new UsageError(`Failed to read policy file "${src}": ${(err as Error).message}`);
  }
}

const write: Command = {
  name: "policy write",
  args: "NAME FILE|-",
  synopsis: "Upload a policy (HCL or JSON) from a file or stdin",
  async run(ctx) {
    const [name, src] = expectArgs(ctx, 2) as [string, string];
    const policy = await readSource(ctx, src);
    await ctx.api("PUT", `sys/policies/acl/${encodePath(name)}`, { policy }, {
      action: `uploading policy ${name}`,
    });
    return printSuccess(ctx, `Uploaded policy: ${name}`);
  },
};

const read: Command = {
  name: "policy read",
  args: "NAME",
  synopsis: "Print a policy's rules",
  async run(ctx) {
    const [name] = expectArgs(ctx, 1) as [string];
    const res = await ctx.api("GET", `sys/policies/acl/${encodePath(name)}`, undefined, {
      action: `reading policy ${name}`,
      accept: [404],
    });
    if (res.status === 404) {
      ctx.io.err(`No policy named: ${name}`);
      return 2;
    }
    const d = dataOf(res.body);
    ctx.io.out(ctx.format === "json" ? json(res.body) : String(d.policy ?? d.rules ?? ""));
    return 0;
  },
};

const list: Command = {
  name: "policy list",
  synopsis: "List policy names",
  async run(ctx) {
    expectArgs(ctx, 0);
    const res = await ctx.api("LIST", "sys/policies/acl", undefined, {
      action: "listing policies",
      accept: [404],
    });
    const keys = keysOf(res.body);
    if (ctx.format === "json") ctx.io.out(json(keys));
    else if (keys.length > 0) ctx.io.out(keys.join("\n"));
    return 0;
  },
};

const del: Command = {
  name: "policy delete",
  args: "NAME",
  synopsis: "Delete a policy",
  async run(ctx) {
    const [name] = expectArgs(ctx, 1) as [string];
    await ctx.api("DELETE", `sys/policies/acl/${encodePath(name)}`, undefined, {
      action: `deleting policy ${name}`,
    });
    return printSuccess(ctx, `Deleted policy: ${name}`);
  },
};

export const policyCommands: Command[] = [write, read, list, del];
