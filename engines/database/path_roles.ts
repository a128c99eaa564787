/**
 * `roles/:name` (write merges into the stored role, as Vault's does) and LIST `roles/`.
 * Statements are kept as given; they are split and rendered only when run.
 */
import { BadRequest, listResponse, NotFound, type PathSpec } from "../sdk.ts";
import type { DatabaseBackend } from "./backend.ts";
import { checkName, type RoleInput, roleInput } from "./schemas.ts";
import type { RoleRecord } from "./store.ts";

function buildRole(old: RoleRecord | null, d: RoleInput): RoleRecord {
  const dbName = d.db_name ?? old?.db_name;
  if (!dbName) throw new BadRequest("db_name: required");
  const role: RoleRecord = {
    db_name: checkName("connection", dbName),
    default_ttl: d.default_ttl ?? old?.default_ttl ?? 0,
    max_ttl: d.max_ttl ?? old?.max_ttl ?? 0,
    creation_statements: d.creation_statements ?? old?.creation_statements ?? [],
    revocation_statements: d.revocation_statements ?? old?.revocation_statements ?? [],
    rollback_statements: d.rollback_statements ?? old?.rollback_statements ?? [],
    renew_statements: d.renew_statements ?? old?.renew_statements ?? [],
  };
  if (role.creation_statements.length === 0) {
    throw new BadRequest("creation_statements: required");
  }
  if (role.max_ttl > 0 && role.default_ttl > role.max_ttl) {
    throw new BadRequest("default_ttl: must not be greater than max_ttl");
  }
  return role;
}

export function pathRoles(b: DatabaseBackend): PathSpec[] {
  async function write(req: { params: Record<string, string>; data: Record<string, unknown> }) {
    const name = checkName("role", req.params.name!);
    await b.lock.run(async () => {
      await b.store.putRole(name, buildRole(await b.store.role(name), req.data as RoleInput));
    });
  }
  return [
    {
      pattern: "roles/",
      synopsis: "List the roles credentials are created under",
      operations: {
        list: async () => listResponse(await b.store.roles()),
      },
    },
    {
      pattern: "roles/:name",
      input: { write: roleInput },
      synopsis: "Manage the roles credentials are created under",
      exists: async (req) => {
        try {
          return (await b.store.role(checkName("role", req.params.name!))) !== null;
        } catch {
          return false;
        }
      },
      operations: {
        async read(req) {
          const role = await b.store.role(checkName("role", req.params.name!));
          if (!role) throw new NotFound();
          return { data: { ...role, credential_type: "password" } };
        },
        create: write,
        update: write,
        async delete(req) {
          const name = checkName("role", req.params.name!);
          await b.lock.run(() => b.store.deleteRole(name));
        },
      },
    },
  ];
}
