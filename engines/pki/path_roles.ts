/**
 * `roles/:name` (write replaces, PATCH merges, read returns every field with durations in seconds)
 * and LIST `roles/`.
 */
import { listResponse, NotFound, type PathSpec } from "../sdk.ts";
import type { PkiBackend } from "./backend.ts";
import { buildRole, checkRoleName, ROLE_DEFAULTS, type RoleInput, roleInput } from "./role.ts";

export function pathRoles(b: PkiBackend): PathSpec[] {
  return [
    {
      pattern: "roles/",
      synopsis: "List roles",
      operations: {
        list: async () => listResponse(await b.store.roles()),
      },
    },
    {
      pattern: "roles/:name",
      input: { write: roleInput, patch: roleInput },
      synopsis: "Manage the roles certificates are issued under",
      exists: async (req) => {
        try {
          return (await b.roles.get(checkRoleName(req.params.name!))) !== null;
        } catch {
          return false;
        }
      },
      operations: {
        async read(req) {
          const role = await b.roles.get(checkRoleName(req.params.name!));
          if (!role) throw new NotFound();
          return { data: { ...role } };
        },
        // Vault semantics: a write is the whole role; absent fields take their defaults.
        async create(req) {
          const name = checkRoleName(req.params.name!);
          await b.roles.update(name, () => buildRole(ROLE_DEFAULTS, req.data as RoleInput));
        },
        async update(req) {
          const name = checkRoleName(req.params.name!);
          await b.roles.update(name, () => buildRole(ROLE_DEFAULTS, req.data as RoleInput));
        },
        async patch(req) {
          const name = checkRoleName(req.params.name!);
          const role = await b.roles.update(name, (current) => {
            if (!current) throw new NotFound();
            return buildRole(current, req.data as RoleInput);
          });
          return { data: { ...role } };
        },
        async delete(req) {
          const name = checkRoleName(req.params.name!);
          await b.roles.update(name, () => null);
        },
      },
    },
  ];
}
