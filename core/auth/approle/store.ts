/**
 * Storage layout of one AppRole mount (all values JSON, encrypted by the barrier; key names are
 * not encrypted, which is why role-ids and secret-ids appear in them only as HMACs):
 *
 *   salt                          {key}: the mount's HMAC key (hasher.ts)
 *   role/<name>                   Role
 *   role_id/<hmac(role_id)>       {name}: login's way from a role-id to its role
 *   secret_id/<name>/<hmac(sid)>  SecretIdEntry
 *   accessor/<name>/<accessor>    {hmac}: lookup/destroy by accessor, and LIST of secret-ids
 */
import type { StorageView, WriteOp } from "../../../engines/sdk.ts";
import { putJSONOp, readJSON } from "../../../engines/sdk.ts";
import type { Hasher } from "./hasher.ts";
import type { Role } from "./role.ts";
import type { SecretIdEntry } from "./secret_id.ts";

export const keys = {
  role: (name: string) => `role/${name}`,
  roleId: (hmac: string) => `role_id/${hmac}`,
  secretDir: (name: string) => `secret_id/${name}/`,
  secret: (name: string, hmac: string) => `secret_id/${name}/${hmac}`,
  accessorDir: (name: string) => `accessor/${name}/`,
  accessor: (name: string, accessor: string) => `accessor/${name}/${accessor}`,
};

export class AppRoleStore {
  readonly storage: StorageView;
  readonly hasher: () => Promise<Hasher>;

  constructor(storage: StorageView, hasher: () => Promise<Hasher>) {
    this.storage = storage;
    this.hasher = hasher;
  }

  role(name: string): Promise<Role | null> {
    return readJSON<Role>(this.storage, keys.role(name));
  }

  async roleNames(): Promise<string[]> {
    return (await this.storage.list("role/")).filter((k) => !k.endsWith("/")).sort();
  }

  async roleIdOwner(roleIdHmac: string): Promise<string | null> {
    return (await readJSON<{ name: string }>(this.storage, keys.roleId(roleIdHmac)))?.name ?? null;
  }

  secret(name: string, hmac: string): Promise<SecretIdEntry | null> {
    return readJSON<SecretIdEntry>(this.storage, keys.secret(name, hmac));
  }

  /** The secret-id HMAC an accessor points to (null for unknown or malformed accessors). */
  async accessorTarget(name: string, accessor: string): Promise<string | null> {
    if (accessor.includes("/")) return null;
    const a = await readJSON<{ hmac: string }>(this.storage, keys.accessor(name, accessor));
    return a?.hmac ?? null;
  }

  async secretHmacs(name: string): Promise<string[]> {
    return (await this.storage.list(keys.secretDir(name))).filter((k) => !k.endsWith("/"));
  }

  async accessors(name: string): Promise<string[]> {
    return (await this.storage.list(keys.accessorDir(name))).filter((k) => !k.endsWith("/"));
  }

  /** Writes a role and moves its role-id index when the role-id changed. */
  async putRoleOps(role: Role, prev: Role | null): Promise<WriteOp[]> {
    const h = await this.hasher();
    const ops: WriteOp[] = [putJSONOp(keys.role(role.name), role)];
    if (prev?.role_id !== role.role_id) {
      if (prev) ops.push({ op: "delete", key: keys.roleId(h.roleId(prev.role_id)) });
      ops.push(putJSONOp(keys.roleId(h.roleId(role.role_id)), { name: role.name }));
    }
    return ops;
  }

  putSecretOps(name: string, e: SecretIdEntry): WriteOp[] {
    return [
      putJSONOp(keys.secret(name, e.hmac), e),
      putJSONOp(keys.accessor(name, e.accessor), { hmac: e.hmac }),
    ];
  }

  deleteSecretOps(name: string, e: { hmac: string; accessor: string }): WriteOp[] {
    return [
      { op: "delete", key: keys.secret(name, e.hmac) },
      { op: "delete", key: keys.accessor(name, e.accessor) },
    ];
  }
}
