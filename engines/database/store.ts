/**
 * Storage layout of one database mount (keys relative to the mount's barrier view, so every
 * value, the root password included, is encrypted at rest):
 *
 *   config/<name>   ConfigRecord: a connection and the roles allowed to use it
 *   role/<name>     RoleRecord: the statements and TTLs credentials are created with
 */
import { readJSON, type StorageView, writeJSON } from "../sdk.ts";

export const POSTGRES_PLUGIN = "postgresql-database-plugin";

export interface ConfigRecord {
  plugin_name: typeof POSTGRES_PLUGIN;
  /** With `{{username}}`/`{{password}}` placeholders (or, discouraged, literal credentials). */
  connection_url: string;
  username: string;
  /** Never returned by any read. */
  password: string;
  /** Role names or globs; "*" allows every role. Empty allows none. */
  allowed_roles: string[];
  verify_connection: boolean;
  max_open_connections: number;
  max_idle_connections: number;
  /** Seconds; 0 keeps connections until they fail or idle out. */
  max_connection_lifetime: number;
  /** Accepted for Vault compatibility; PostgreSQL hashes the password it receives. */
  password_authentication: string;
  root_rotation_statements: string[];
  /**
   * Set by rotate-root before the ALTER ROLE runs and cleared once the new password is stored;
   * kept when the rotation's outcome is unknown. A crash or a lost COMMIT answer in between
   * leaves the new password recoverable from encrypted storage (settle.ts).
   */
  pending_password?: string;
}

export interface RoleRecord {
  db_name: string;
  /** Seconds; 0 = the mount's default lease TTL. */
  default_ttl: number;
  /** Seconds; 0 = the mount's max lease TTL. */
  max_ttl: number;
  creation_statements: string[];
  revocation_statements: string[];
  rollback_statements: string[];
  renew_statements: string[];
}

export class DatabaseStore {
  readonly #s: StorageView;

  constructor(storage: StorageView) {
    this.#s = storage;
  }

  config(name: string): Promise<ConfigRecord | null> {
    return readJSON<ConfigRecord>(this.#s, `config/${name}`);
  }

  putConfig(name: string, c: ConfigRecord): Promise<void> {
    return writeJSON(this.#s, `config/${name}`, c);
  }

  deleteConfig(name: string): Promise<void> {
    return this.#s.delete(`config/${name}`);
  }

  configs(): Promise<string[]> {
    return this.#leaves("config/");
  }

  role(name: string): Promise<RoleRecord | null> {
    return readJSON<RoleRecord>(this.#s, `role/${name}`);
  }

  putRole(name: string, r: RoleRecord): Promise<void> {
    return writeJSON(this.#s, `role/${name}`, r);
  }

  deleteRole(name: string): Promise<void> {
    return this.#s.delete(`role/${name}`);
  }

  roles(): Promise<string[]> {
    return this.#leaves("role/");
  }

  async #leaves(prefix: string): Promise<string[]> {
    return (await this.#s.list(prefix)).filter((k) => !k.endsWith("/")).sort();
  }
}
