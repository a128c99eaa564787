/**
 * Everything else under a KV v2 mount. Vault answers 404 with a warning pointing at the right
 * API (people try `GET secret/foo` after using KV v1), and a separate warning for non-list
 * operations on the bare `data`, `metadata`, ... prefixes. Must stay last in the path table.
 */
import type { EngineResponse, Operation, PathSpec } from "../sdk.ts";

const ROOTS = new Set(["data", "metadata", "delete", "undelete", "destroy"]);

export const ROOT_WARNING =
  "Non-listing operations on the root of a K/V v2 mount are not supported.";

const SUBCOMMAND: Record<Operation, string> = {
  create: "put",
  update: "put",
  patch: "patch",
  read: "get",
  list: "list",
  delete: "delete",
};

function invalid(req: { path: string; operation: Operation }): Promise<EngineResponse> {
  const warning = ROOTS.has(req.path.replace(/\/$/, ""))
    ? ROOT_WARNING
    : "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate " +
      `API endpoints to use. If using the CLI, use 'vault kv ${
        SUBCOMMAND[req.operation]
      }' for this operation.`;
  return Promise.resolve({ status: 404, data: null, warnings: [warning] });
}

export function pathInvalid(): PathSpec {
  return {
    pattern: ":rest*",
    synopsis: "Paths a versioned KV mount does not serve",
    operations: {
      read: invalid,
      create: invalid,
      update: invalid,
      patch: invalid,
      delete: invalid,
      list: invalid,
    },
  };
}
