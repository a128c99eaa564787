/** auth/jwt/*: Vault's JWT auth method (Kubernetes service accounts, CI identities). */
import { BadRequest, NotFound } from "../../../lib/errors.ts";
import { ignoredParamsWarning } from "../../../lib/fields.ts";
import { type AuthMethodFactory, withLoginRecords } from "../types.ts";
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
    const newVerifier = (c: JwtConfig): Verifier =>
      c.jwks_url
        ? jwksVerifier(c.jwks_url, c.jwks_ca_pem, opts)
        : pemVerifier(c.jwt_validation_pubkeys);
    const install = (c: JwtConfig, verifier: Verifier): Verifier => {
      if (cached?.verifier !== verifier) cached?.verifier.close();
      cached = { key: JSON.stringify(c), verifier };
      return verifier;
    };
    const verifierFor = (c: JwtConfig): Verifier =>
      cached?.key === JSON.stringify(c) ? cached.verifier : install(c, newVerifier(c));

    /**
     * As Vault's config write, the key set is fetched before the config is stored: a URL that
     * cannot serve one is refused instead of replacing a working config. The verifier that
     * fetched it serves the logins after, so the set is not fetched twice.
     */
    const writeConfigChecked = async (
      r: { data: Record<string, unknown> },
    ): Promise<{ warnings?: string[] } | void> => {
      const c = await buildConfig(r.data as ConfigInput);
      const verifier = newVerifier(c);
      try {
        await verifier.check();
      } catch (e) {
        verifier.close();
        throw new BadRequest(`error checking jwks URL: ${(e as Error).message}`);
      }
      try {
        await writeConfig(ctx.storage, c);
      } catch (e) {
        verifier.close();
        throw e;
      }
      install(c, verifier);
      const warnings = ignoredParamsWarning(r.data, configSchema);
      if (warnings) return { warnings };
    };

    const writeRole = async (
      r: { params: Record<string, string>; data: Record<string, unknown> },
    ): Promise<{ warnings?: string[] } | void> => {
      const name = r.params.name!;
      await roles.put(name, mergeRole(await roles.get(name), r.data as RoleInput));
      const warnings = ignoredParamsWarning(r.data, roleSchema);
      if (warnings) return { warnings };
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
            update: writeConfigChecked,
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
        withLoginRecords({
          pattern: "login",
          unauthenticated: true,
          input: { write: loginSchema },
          operations: { update: (r) => login({ ctx, roles, verifierFor, roleEpochs }, r) },
        }, { kind: "role", read: (name) => roles.get(name) }),
      ],
    };
  };
}

export const jwtFactory: AuthMethodFactory = createJwtFactory();
