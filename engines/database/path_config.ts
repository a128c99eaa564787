/**
 * `config/:name` (write merges into the stored connection, read never shows the password) and
 * LIST `config/`. A write verifies the connection first unless `verify_connection` is false,
 * and replaces the connection's pool.
 */
import { BadRequest, listResponse, NotFound, type PathSpec } from "../sdk.ts";
import type { DatabaseBackend } from "./backend.ts";
import { checkConnectionUrl, hasLiteralPassword, maskUrl } from "./postgres.ts";
import { checkName, type ConfigInput, configInput } from "./schemas.ts";
import { settledConfig } from "./settle.ts";
import { type ConfigRecord, POSTGRES_PLUGIN } from "./store.ts";

const DEFAULT_MAX_OPEN_CONNECTIONS = 4;

function buildConfig(old: ConfigRecord | null, d: ConfigInput): ConfigRecord {
  const plugin = d.plugin_name ?? old?.plugin_name;
  if (!plugin) throw new BadRequest("plugin_name: required");
  if (plugin !== POSTGRES_PLUGIN) {
    throw new BadRequest(
      `plugin_name: unsupported plugin "${plugin}"; only "${POSTGRES_PLUGIN}" is available`,
    );
  }
  const url = d.connection_url ?? old?.connection_url;
  if (!url) throw new BadRequest("connection_url: required");
  checkConnectionUrl(url);
  const next: ConfigRecord = {
    plugin_name: POSTGRES_PLUGIN,
    connection_url: url,
    username: d.username ?? old?.username ?? "",
    password: d.password ?? old?.password ?? "",
    allowed_roles: d.allowed_roles ?? old?.allowed_roles ?? [],
    // Per request, as in Vault: a later write without it verifies again.
    verify_connection: d.verify_connection ?? true,
    max_open_connections: d.max_open_connections ?? old?.max_open_connections ??
      DEFAULT_MAX_OPEN_CONNECTIONS,
    max_idle_connections: d.max_idle_connections ?? old?.max_idle_connections ?? 0,
    max_connection_lifetime: d.max_connection_lifetime ?? old?.max_connection_lifetime ?? 0,
    password_authentication: d.password_authentication ?? old?.password_authentication ??
      "password",
    root_rotation_statements: d.root_rotation_statements ?? old?.root_rotation_statements ?? [],
  };
  // A new password supersedes an interrupted rotation's.
  if (old?.pending_password && d.password === undefined) {
    next.pending_password = old.pending_password;
  }
  return next;
}

export function configView(c: ConfigRecord): Record<string, unknown> {
  return {
    plugin_name: c.plugin_name,
    plugin_version: "",
    connection_details: {
      connection_url: maskUrl(c.connection_url),
      username: c.username,
      max_open_connections: c.max_open_connections,
      max_idle_connections: c.max_idle_connections,
      max_connection_lifetime: c.max_connection_lifetime,
      password_authentication: c.password_authentication,
    },
    allowed_roles: c.allowed_roles,
    root_credentials_rotate_statements: c.root_rotation_statements,
    password_policy: "",
    verify_connection: c.verify_connection,
  };
}

export function pathConfig(b: DatabaseBackend): PathSpec[] {
  async function write(req: { params: Record<string, string>; data: Record<string, unknown> }) {
    const name = checkName("connection", req.params.name!);
    return await b.lock.run(async () => {
      let next = buildConfig(await b.store.config(name), req.data as ConfigInput);
      // Verifying settles an undecided rotation first: the stored password may be the stale one.
      // Unverified, the write connects nowhere and the next use settles it.
      if (next.verify_connection) next = await settledConfig(next);
      await b.store.putConfig(name, next);
      await b.pools.close(name);
      if (!hasLiteralPassword(next.connection_url)) return;
      return {
        warnings: [
          "Password found in connection_url, use a templated url to enable root rotation and prevent read access to password information.",
        ],
      };
    });
  }
  return [
    {
      pattern: "config/",
      synopsis: "List the configured database connections",
      operations: {
        list: async () => listResponse(await b.store.configs()),
      },
    },
    {
      pattern: "config/:name",
      input: { write: configInput },
      synopsis: "Configure a connection to a PostgreSQL database",
      exists: async (req) => {
        try {
          return (await b.store.config(checkName("connection", req.params.name!))) !== null;
        } catch {
          return false;
        }
      },
      operations: {
        async read(req) {
          const c = await b.store.config(checkName("connection", req.params.name!));
          if (!c) throw new NotFound();
          return { data: configView(c) };
        },
        create: write,
        update: write,
        async delete(req) {
          const name = checkName("connection", req.params.name!);
          await b.lock.run(async () => {
            await b.store.deleteConfig(name);
            await b.pools.close(name);
          });
        },
      },
    },
  ];
}
