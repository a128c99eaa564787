/** role/:role/secret-id, custom-secret-id, and lookup/destroy by value or by accessor. */
import { BadRequest, NotFound } from "../../../lib/errors.ts";
import { uuid } from "../../../lib/crypto.ts";
import type { CoreHandler, CorePathSpec, CoreRequest } from "../../router/types.ts";
import { type AppRoleDeps, lockKeys } from "./deps.ts";
import { type Role, roleName } from "./role.ts";
import * as schemas from "./schemas.ts";
import { entryView, newEntry } from "./secret_id.ts";

export function secretIdRoutes(deps: AppRoleDeps): CorePathSpec[] {
  const { ctx, store, locks } = deps;

  const existingRole = async (name: string): Promise<Role> => {
    const role = await store.role(name);
    if (!role) throw new BadRequest(`role "${name}" does not exist`);
    return role;
  };

  const issue = async (req: CoreRequest, secretId: string) => {
    const name = roleName(req.params.role!);
    const o = req.data as schemas.SecretIdOptions;
    const hmac = (await store.hasher()).secretId(secretId);
    // The role lock keeps a secret-id from being written for a role being deleted (it would
    // survive as an orphan and come back if the role were re-created).
    const entry = await locks.runAll([lockKeys.role(name), lockKeys.secret(hmac)], async () => {
      const role = await existingRole(name);
      if (await store.secret(name, hmac)) throw new BadRequest("secret_id is already registered");
      const e = newEntry(role, o, hmac, uuid(), ctx.now());
      await store.storage.batch(store.putSecretOps(name, e));
      return e;
    });
    return {
      data: {
        secret_id: secretId,
        secret_id_accessor: entry.accessor,
        secret_id_ttl: entry.ttl,
        secret_id_num_uses: entry.num_uses,
      },
    };
  };

  /** The HMAC for a lookup by value (the role must exist, as in Vault). */
  const hmacOfValue = async (req: CoreRequest) => {
    const name = roleName(req.params.role!);
    await existingRole(name);
    const { secret_id } = req.data as { secret_id: string };
    return { name, hmac: (await store.hasher()).secretId(secret_id) };
  };

  const hmacOfAccessor = async (req: CoreRequest) => {
    const name = roleName(req.params.role!);
    await existingRole(name);
    const { secret_id_accessor } = req.data as { secret_id_accessor: string };
    const hmac = await store.accessorTarget(name, secret_id_accessor);
    if (!hmac) throw new NotFound("failed to find accessor entry for secret_id_accessor");
    return { name, hmac };
  };

  const lookup = (find: typeof hmacOfValue): CoreHandler => async (req) => {
    const { name, hmac } = await find(req);
    const e = await store.secret(name, hmac);
    // The storage key is already the HMAC; no comparison of secret material happens here.
    if (!e) return;
    return { data: entryView(e) };
  };

  const destroy = (find: typeof hmacOfValue): CoreHandler => async (req) => {
    const { name, hmac } = await find(req);
    await locks.run(lockKeys.secret(hmac), async () => {
      const e = await store.secret(name, hmac);
      if (e) await store.storage.batch(store.deleteSecretOps(name, e));
    });
  };

  return [
    {
      pattern: "role/:role/secret-id/",
      operations: {
        list: async (req) => {
          const name = roleName(req.params.role!);
          await existingRole(name);
          const accessors = (await store.accessors(name)).sort();
          if (!accessors.length) throw new NotFound();
          return { data: { keys: accessors } };
        },
      },
    },
    {
      pattern: "role/:role/secret-id",
      input: { write: schemas.secretIdGenerate },
      operations: { update: (req) => issue(req, uuid()) },
    },
    {
      pattern: "role/:role/custom-secret-id",
      input: { write: schemas.customSecretId },
      operations: { update: (req) => issue(req, (req.data as { secret_id: string }).secret_id) },
    },
    {
      pattern: "role/:role/secret-id/lookup",
      input: { write: schemas.bySecretId },
      operations: { update: lookup(hmacOfValue) },
    },
    {
      pattern: "role/:role/secret-id/destroy",
      input: { write: schemas.bySecretId, delete: schemas.bySecretId },
      operations: { update: destroy(hmacOfValue), delete: destroy(hmacOfValue) },
    },
    {
      pattern: "role/:role/secret-id-accessor/lookup",
      input: { write: schemas.byAccessor },
      operations: { update: lookup(hmacOfAccessor) },
    },
    {
      pattern: "role/:role/secret-id-accessor/destroy",
      input: { write: schemas.byAccessor, delete: schemas.byAccessor },
      operations: { update: destroy(hmacOfAccessor), delete: destroy(hmacOfAccessor) },
    },
  ];
}
