/** auth/jwt/*: Vault's JWT auth method (Kubernetes service accounts, CI identities). */
import { NotFound } from "../../../lib/errors.ts";
import type { AuthMethodFactory } from "../types.ts";
import {
  buildConfig,
  type ConfigInput,
  configSchema,
  configView,
  type JwtConfig,
  readConfig,
  writeConfig,
} from "./config.ts";
import { type JwksOptions, jwksVerifier, pemVerifier, type Verifier } from "./keys.ts";
import { login, loginSchema } from "./login.ts";
import { mergeRole, type RoleInput, roleSchema, RoleStore, roleView } from "./role.ts";

export type JwtFactoryOptions = JwksOptions;

/** Options exist for tests (a JWKS cooldown of 0 lets rotation be observed immediately). */
export function createJwtFactory(opts: JwtFactoryOptions = {}): AuthMethodFactory {
  return (ctx) => {
    const roles = new RoleStore(ctx.storage);
    /** See LoginDeps.roleEpochs. */
    const roleEpochs = new Map<string, number>();
    // One verifier per config: keeps jose's JWKS cache warm across logins and is dropped as
    // soon as the config changes.
    let cached: { key: string; verifier: Verifier } | null = null;
    const verifierFor = (c: JwtConfig): Verifier => {
      const key = JSON.stringify(c);
      if (cached?.key !== key) {
        const verifier = c.jwks_url
          ? jwksVerifier(c.jwks_url, c.jwks_ca_pem, opts)
          : pemVerifier(c.jwt_validation_pubkeys);
        cached?.verifier.close();
        cached = { key, verifier };
      }
      return cached.verifier;
    };

    const writeRole = async (r: { params: Record<string, string>; data: unknown }) => {
      const name = r.params.name!;
      await roles.put(name, mergeRole(await roles.get(name), r.data as RoleInput));
    };

    return {
      type: "jwt",
      paths: [
        {
          pattern: "config",
          input: { write: configSchema },
          operations: {
            read: async () => {
              const c = await readConfig(ctx.storage);
              if (!c) throw new NotFound();
              return { data: configView(c) };
            },
            update: async (r) => {
              await writeConfig(ctx.storage, await buildConfig(r.data as ConfigInput));
            },
          },
        },
        {
          pattern: "role/",
          operations: {
            list: async () => {
              const keys = await roles.list();
              if (!keys.length) throw new NotFound();
              return { data: { keys } };
            },
          },
        },
        {
          pattern: "role/:name",
          input: { write: roleSchema },
          exists: async (r) => (await roles.get(r.params.name!)) !== null,
          operations: {
            read: async (r) => {
              const role = await roles.get(r.params.name!);
              if (!role) throw new NotFound();
              return { data: roleView(role) };
            },
            create: writeRole,
            update: writeRole,
            delete: async (r) => {
              const name = r.params.name!;
              await roles.delete(name);
              roleEpochs.set(name, (roleEpochs.get(name) ?? 0) + 1);
              await ctx.revokeRole(name);
            },
          },
        },
        {
          pattern: "login",
          unauthenticated: true,
          input: { write: loginSchema },
          operations: { update: (r) => login({ ctx, roles, verifierFor, roleEpochs }, r) },
        },
      ],
    };
  };
}

export const jwtFactory: AuthMethodFactory = createJwtFactory();
