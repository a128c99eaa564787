/** auth/userpass/*: Vault's userpass method (people log in with a name and a password). */
import { BadRequest, NotFound } from "../../../lib/errors.ts";
import { v } from "../../../lib/fields.ts";
import type { AuthMethodFactory } from "../types.ts";
import type { CoreRequest } from "../../router/types.ts";
import { dummyHash, hashPassword } from "./password.ts";
import { login } from "./login.ts";
import { mergeTokenSettings, NO_TOKEN_SETTINGS, tokenFieldSchemas } from "./token_fields.ts";
import { normalizeUsername, type UserRecord, UserStore, userView } from "./users.ts";

/** Long enough for any passphrase, short enough that hashing input stays cheap. */
const password = v.pipe(
  v.string("must be a string"),
  v.minLength(1, "must not be empty"),
  v.maxLength(1024, "too long"),
);

const userSchema = v.object({ password: v.optional(password), ...tokenFieldSchemas });
const passwordSchema = v.object({ password: v.optional(password) });
const policiesSchema = v.object({
  token_policies: tokenFieldSchemas.token_policies,
  policies: tokenFieldSchemas.policies,
});
const loginSchema = v.object({ password: v.optional(password) });

type UserInput = v.InferOutput<typeof userSchema>;

function usernameOf(r: { params: Record<string, string> }): string {
  const name = normalizeUsername(r.params.username ?? "");
  if (!name || name.length > 256) throw new BadRequest("invalid username");
  return name;
}

export const userpassFactory: AuthMethodFactory = (ctx) => {
  const users = new UserStore(ctx.storage);
  // Computed now so the first unknown-user login is not slower than a known one.
  void dummyHash();

  const mustGet = async (name: string): Promise<UserRecord> => {
    const u = await users.get(name);
    if (!u) throw new BadRequest("username does not exist");
    return u;
  };

  const writeUser = async (r: CoreRequest) => {
    const name = usernameOf(r);
    const d = r.data as UserInput;
    const prev = await users.get(name);
    if (!prev && d.password === undefined) throw new BadRequest("missing password");
    const settings = mergeTokenSettings(prev ?? NO_TOKEN_SETTINGS, d);
    const password_hash = d.password !== undefined
      ? await hashPassword(d.password)
      : prev!.password_hash;
    await users.put(name, { ...settings, password_hash });
  };

  return {
    type: "userpass",
    paths: [
      {
        pattern: "users/",
        operations: {
          list: async () => {
            const keys = await users.list();
            if (!keys.length) throw new NotFound();
            return { data: { keys } };
          },
        },
      },
      {
        pattern: "users/:username/password",
        input: { write: passwordSchema },
        operations: {
          update: async (r) => {
            const name = usernameOf(r);
            const { password } = r.data as v.InferOutput<typeof passwordSchema>;
            if (password === undefined) throw new BadRequest("missing password");
            const u = await mustGet(name);
            await users.put(name, { ...u, password_hash: await hashPassword(password) });
          },
        },
      },
      {
        pattern: "users/:username/policies",
        input: { write: policiesSchema },
        operations: {
          update: async (r) => {
            const name = usernameOf(r);
            const d = r.data as v.InferOutput<typeof policiesSchema>;
            if (!d.token_policies && !d.policies) throw new BadRequest("missing token_policies");
            const u = await mustGet(name);
            await users.put(name, { ...u, ...mergeTokenSettings(u, d) });
          },
        },
      },
      {
        pattern: "users/:username",
        input: { write: userSchema },
        exists: async (r) => (await users.get(usernameOf(r))) !== null,
        operations: {
          read: async (r) => {
            const u = await users.get(usernameOf(r));
            if (!u) throw new NotFound();
            return { data: userView(u) };
          },
          create: writeUser,
          update: writeUser,
          delete: async (r) => {
            const name = usernameOf(r);
            await users.delete(name);
            await ctx.revokeRole(name);
          },
        },
      },
      {
        pattern: "login/:username",
        unauthenticated: true,
        input: { write: loginSchema },
        operations: {
          update: (r) => login(ctx, users, r),
        },
      },
    ],
  };
};
