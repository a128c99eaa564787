/**
 * The `cubbyhole/` mount, as Vault's: each token reads, writes, lists and deletes only its own
 * paths (the token is the namespace, so even root sees only its own), and everything goes when
 * the token is revoked or expires. The default policy grants it.
 */
import { BadRequest, NotFound } from "../../lib/errors.ts";
import { folderPath, secretPath } from "../../engines/kv/key_path.ts";
import { listResponse } from "../../engines/sdk.ts";
import type { CorePathSpec, CoreRequest } from "../router/types.ts";
import type { CubbyholeStore } from "./cubbyhole_store.ts";

function leaf(r: CoreRequest): string {
  const path = secretPath(r.params.path);
  if (path === "" || path.endsWith("/")) throw new BadRequest("missing path");
  return path;
}

export function cubbyholeRoutes(store: () => CubbyholeStore): CorePathSpec[] {
  const write = async (r: CoreRequest) => {
    const path = leaf(r);
    if (Object.keys(r.data).length === 0) throw new BadRequest("missing data fields");
    await store().write(r.tokenAccessor, path, r.data);
  };
  return [{
    pattern: ":path*",
    operations: {
      read: async (r) => {
        const data = await store().read(r.tokenAccessor, leaf(r));
        if (!data) throw new NotFound();
        return { data };
      },
      create: write,
      update: write,
      delete: async (r) => {
        await store().delete(r.tokenAccessor, leaf(r));
      },
      list: async (r) =>
        listResponse(await store().list(r.tokenAccessor, folderPath(r.params.path))),
    },
  }];
}
