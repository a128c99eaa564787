/** auth/userpass/*: Vault's userpass method (people log in with a name and a password). */
import { BadRequest, NotFound } from "../../../lib/errors.ts";
import { ignoredParamsWarning, v } from "../../../lib/fields.ts";
import { type AuthMethodFactory, withLoginRecords } from "../types.ts";
import type { CoreRequest } from "../../router/types.ts";
import { dummyHash, hashPassword } from "./password.ts";
import { bumpUserEpoch, login, type UserpassDeps } from "./login.ts";
import { KeyedLock } from "../approle/lock.ts";
import { mergeTokenParams, NO_TOKEN_PARAMS, tokenParamSchemas } from "../token_fields.ts";
import { normalizeUsername, type UserRecord, UserStore, userView } from "./users.ts";

/** Long enough for any passphrase, short enough that hashing input stays cheap. */
const password = v.pipe(
  v.string("must be a string"),
  v.minLength(1, "must not be empty"),
  v.maxLength(1024, "too long"),
);

/** Loose: a key it has no entry for reaches the handler, which warns that it was ignored. */
const userSchema = v.looseObject({ password: v.optional(password), ...tokenParamSchemas });
const passwordSchema = v.object({ password: v.optional(password) });
const policiesSchema = v.object({
  token_policies: tokenParamSchemas.token_policies,
  policies: tokenParamSchemas.policies,
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
  const deps: UserpassDeps = { ctx, users, locks: new KeyedLock(), epochs: new Map() };
  /**
   * Every read-modify-write of one user's record runs under its lock; slow hashing happens
   * before it is taken, so a password change does not hold up the user's other changes.
   */
  const locked = <T>(name: string, fn: () => Promise<T>) => deps.locks.run(name, fn);
  // Computed now so the first unknown-user login is not slower than a known one.
  void dummyHash();

  const mustGet = async (name: string): Promise<UserRecord> => {
    const u = await users.get(name);
    if (!u) throw new BadRequest("username does not exist");
    return u;
  };

  const writeUser = async (r: CoreRequest): Promise<{ warnings?: string[] } | void> => {
    const name = usernameOf(r);
    const d = r.data as UserInput;
    const hashed = d.password !== undefined ? await hashPassword(d.password) : null;
    await locked(name, async () => {
      const prev = await users.get(name);
      if (!prev && !hashed) throw new BadRequest("missing password");
      const settings = mergeTokenParams(prev ?? NO_TOKEN_PARAMS, d);
      await users.put(name, { ...settings, password_hash: hashed ?? prev!.password_hash });
    });
    const warnings = ignoredParamsWarning(r.data, userSchema);
    if (warnings) return { warnings };
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
            await mustGet(name); // an unknown user is refused before paying for the hash
            const password_hash = await hashPassword(password);
            await locked(name, async () => {
              const u = await mustGet(name);
              await users.put(name, { ...u, password_hash });
            });
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
            await locked(name, async () => {
              const u = await mustGet(name);
              // Not a 400 when both names come, as on users/:username: Vault's handler for
              // this path lets token_policies win.
              const token_policies = d.token_policies ?? d.policies;
              await users.put(name, { ...u, ...mergeTokenParams(u, { token_policies }) });
            });
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
            await locked(name, () => users.delete(name));
            bumpUserEpoch(deps, name);
            await ctx.revokeRole(name);
          },
        },
      },
      // Each login token records this path with its username, as Vault's do.
      withLoginRecords({
        pattern: "login/:username",
        unauthenticated: true,
        input: { write: loginSchema },
        operations: {
          update: (r) => login(deps, r),
        },
      }, { kind: "user", read: (name) => users.get(name) }),
    ],
  };
};
