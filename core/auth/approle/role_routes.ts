/** role/, role/:role and role/:role/role-id. */
import { BadRequest, NotFound } from "../../../lib/errors.ts";
import { ignoredParamsWarning } from "../../../lib/fields.ts";
import type { WriteOp } from "../../../engines/sdk.ts";
import type { CoreHandler, CorePathSpec } from "../../router/types.ts";
import { type AppRoleDeps, bumpRoleEpoch, lockKeys } from "./deps.ts";
import { applyRoleWrite, roleName, roleView } from "./role.ts";
import * as schemas from "./schemas.ts";
import { keys } from "./store.ts";

export function roleRoutes(deps: AppRoleDeps): CorePathSpec[] {
  const { ctx, store, locks } = deps;
  const roleLocks = (name: string) => [lockKeys.role(name), lockKeys.roles];

  const assertRoleIdFree = async (roleId: string, name: string) => {
    const owner = await store.roleIdOwner((await store.hasher()).roleId(roleId));
    if (owner !== null && owner !== name) throw new BadRequest("role_id already in use");
  };

  const write: CoreHandler = async (req) => {
    const name = roleName(req.params.role!);
    const d = req.data as schemas.RoleWrite;
    await locks.runAll(roleLocks(name), async () => {
      const prev = await store.role(name);
      const role = applyRoleWrite(prev, d, name);
      if (role.role_id !== prev?.role_id) await assertRoleIdFree(role.role_id, name);
      await store.storage.batch(await store.putRoleOps(role, prev));
      if (prev && role.role_id !== prev.role_id) bumpRoleEpoch(deps, name);
    });
    const warnings = ignoredParamsWarning(req.data, schemas.roleWrite);
    if (warnings) return { warnings };
  };

  const remove: CoreHandler = async (req) => {
    const name = roleName(req.params.role!);
    await locks.runAll(roleLocks(name), async () => {
      const role = await store.role(name);
      if (!role) return;
      const hmacs = await store.secretHmacs(name);
      const ops: WriteOp[] = [
        { op: "delete", key: keys.role(name) },
        { op: "delete", key: keys.roleId((await store.hasher()).roleId(role.role_id)) },
        ...hmacs.map((m): WriteOp => ({ op: "delete", key: keys.secret(name, m) })),
        ...(await store.accessors(name)).map((a): WriteOp => ({
          op: "delete",
          key: keys.accessor(name, a),
        })),
      ];
      // Waits out any login holding one of these secret-ids, so none can rewrite it afterwards.
      await locks.runAll(hmacs.map(lockKeys.secret), () => store.storage.batch(ops));
      bumpRoleEpoch(deps, name);
    });
    // Even when the role was already gone: a crash between the delete and the revocation must be
    // repairable by deleting again.
    await ctx.revokeRole(name);
  };

  return [
    {
      pattern: "role/",
      operations: {
        list: async () => {
          const names = await store.roleNames();
          if (!names.length) throw new NotFound();
          return { data: { keys: names } };
        },
      },
    },
    {
      pattern: "role/:role",
      input: { write: schemas.roleWrite },
      exists: async (req) => (await store.role(roleName(req.params.role!))) !== null,
      operations: {
        read: async (req) => {
          const role = await store.role(roleName(req.params.role!));
          if (!role) throw new NotFound();
          return { data: roleView(role) };
        },
        create: write,
        update: write,
        delete: remove,
      },
    },
    {
      pattern: "role/:role/role-id",
      input: { write: schemas.roleIdWrite },
      operations: {
        read: async (req) => {
          const role = await store.role(roleName(req.params.role!));
          if (!role) throw new NotFound();
          return { data: { role_id: role.role_id } };
        },
        update: async (req) => {
          const name = roleName(req.params.role!);
          const { role_id } = req.data as { role_id: string };
          await locks.runAll(roleLocks(name), async () => {
            const prev = await store.role(name);
            if (!prev) throw new BadRequest(`role "${name}" does not exist`);
            if (prev.role_id === role_id) return;
            await assertRoleIdFree(role_id, name);
            await store.storage.batch(await store.putRoleOps({ ...prev, role_id }, prev));
            bumpRoleEpoch(deps, name);
          });
        },
      },
    },
  ];
}
