/**
 * `apps/`: the application registry. Every route is a normal ACL-checked path (`apps`, `apps/<id>`,
 * `apps/<id>/token`, …). Suspending or deleting an app revokes its tokens at once; its
 * certificates stop working at once because the mTLS listener checks the app's status on every
 * request (delete also puts them on the identity CRL).
 */
import { NotFound } from "../../lib/errors.ts";
import type { Core } from "../core.ts";
import type { CorePathSpec, CoreRequest } from "../router/types.ts";
import { authBlock } from "../token/routes.ts";
import type { IdentityPki } from "../identity/identity_pki.ts";
import type { AppInput, AppRecord, AppStore } from "./app_store.ts";
import {
  BOOTSTRAP_DEFAULT_TTL,
  bootstrapInput,
  registerInput,
  tokenInput,
  updateInput,
} from "./schemas.ts";
import { quoted, type v } from "../../lib/fields.ts";

export function appSource(id: string): string {
  return `app/${id}`;
}

function view(a: AppRecord): Record<string, unknown> {
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    owner: a.owner,
    policies: a.policies,
    allowed_paths: a.allowed_paths,
    status: a.status,
    created_time: new Date(a.created_time).toISOString(),
    updated_time: new Date(a.updated_time).toISOString(),
  };
}

export interface AppRouteDeps {
  core: Core;
  apps: AppStore;
  pki: IdentityPki;
}

export function appRoutes({ core, apps, pki }: AppRouteDeps): CorePathSpec[] {
  const need = async (req: CoreRequest): Promise<AppRecord> => {
    const a = await apps.find(req.params.id!);
    if (!a) throw new NotFound(`no application with id or name ${quoted(req.params.id!, 128)}`);
    return a;
  };
  const listApps = async () => {
    const ids = await apps.ids();
    if (ids.length === 0) throw new NotFound();
    const info: Record<string, unknown> = {};
    for (const id of ids) {
      const a = await apps.get(id);
      if (a) info[id] = { name: a.name, status: a.status, owner: a.owner };
    }
    return { data: { keys: ids, key_info: info } };
  };
  const listCerts = async (req: CoreRequest) => {
    const a = await need(req);
    const certs = await apps.certs(a.id);
    if (certs.length === 0) throw new NotFound();
    const info: Record<string, unknown> = {};
    for (const c of certs) info[c.serial_number] = { ...c };
    return { data: { keys: certs.map((c) => c.serial_number), key_info: info } };
  };
  const setStatus = (status: AppRecord["status"]) => async (req: CoreRequest) => {
    const a = await need(req);
    const next = await apps.update(a.id, (cur) => ({ ...cur, status }));
    // Tokens are gone for good; certificates are refused while suspended and work again on
    // activate (they are still the app's and still unrevoked).
    if (status === "suspended") await core.tokens.revokeSource(appSource(a.id));
    return { data: view(next) };
  };

  return [
    {
      pattern: "",
      input: { create: registerInput },
      operations: {
        list: listApps,
        async create(req) {
          const a = await apps.create(req.data as AppInput & { name: string });
          return { data: view(a) };
        },
      },
    },
    {
      pattern: ":id",
      input: { update: updateInput },
      operations: {
        async read(req) {
          return { data: view(await need(req)) };
        },
        async update(req) {
          const a = await need(req);
          const patch = req.data as v.InferOutput<typeof updateInput>;
          const next = await apps.update(a.id, (cur) => {
            const out = { ...cur };
            for (const [k, x] of Object.entries(patch)) {
              if (x !== undefined) (out as Record<string, unknown>)[k] = x;
            }
            return out;
          });
          return { data: view(next) };
        },
        async delete(req) {
          const a = await apps.find(req.params.id!);
          if (!a) return;
          // The app goes first: a token minted after this is refused (whileActive), and one
          // minted before is committed by now, so the revoke below finds it.
          const serials = await apps.delete(a.id);
          await core.tokens.revokeSource(appSource(a.id));
          for (const serial of serials) await pki.revoke(serial);
        },
      },
    },
    { pattern: ":id/suspend", operations: { update: setStatus("suspended") } },
    { pattern: ":id/activate", operations: { update: setStatus("active") } },
    { pattern: ":id/certificates", operations: { read: listCerts } },
    { pattern: ":id/certificates/", operations: { list: listCerts } },
    {
      pattern: ":id/token",
      input: { update: tokenInput },
      operations: {
        async update(req) {
          const body = req.data as v.InferOutput<typeof tokenInput>;
          const { token, entry } = await apps.whileActive(
            (await need(req)).id,
            (a) =>
              core.tokens.create({
                policies: [...new Set([...a.policies, "default"])],
                parent: null,
                meta: { app_id: a.id, app_name: a.name },
                displayName: `app-${a.name}`,
                ttl: body.ttl || undefined,
                numUses: body.num_uses,
                path: `apps/${a.id}/token`,
                source: appSource(a.id),
              }),
          );
          return { auth: authBlock(core, token, entry) };
        },
      },
    },
    {
      pattern: ":id/bootstrap-token",
      input: { update: bootstrapInput },
      operations: {
        async update(req) {
          const a = await need(req);
          const ttl = (req.data as v.InferOutput<typeof bootstrapInput>).ttl ??
            BOOTSTRAP_DEFAULT_TTL;
          const { token, expire } = await apps.whileActive(
            a.id,
            () => apps.createBootstrap(a.id, ttl),
          );
          return {
            data: {
              bootstrap_token: token,
              app_id: a.id,
              ttl,
              expiration: Math.floor(expire / 1000),
            },
          };
        },
      },
    },
  ];
}
