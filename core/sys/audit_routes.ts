/** sys/audit (file sinks), sys/audit/verify (SecretHub: recompute the chain), sys/audit-hash. */
import { BadRequest } from "../../lib/errors.ts";
import { toHex } from "../../lib/crypto.ts";
import { v } from "../../lib/fields.ts";
import { verifyResultView, verifyStoredChain } from "../audit/verify.ts";
import type { Core } from "../core.ts";
import type { CorePathSpec } from "../router/types.ts";

const enableSchema = v.object({
  type: v.picklist(["file"], "only the file audit device is supported"),
  description: v.optional(v.pipe(v.string(), v.maxLength(1024)), ""),
  options: v.object({
    file_path: v.pipe(v.string(), v.minLength(1, "options.file_path is required")),
  }),
  local: v.optional(v.unknown()),
});

export function auditRoutes(core: Core): CorePathSpec[] {
  return [
    {
      pattern: "audit",
      sudo: true,
      injectTopLevel: true,
      operations: {
        read: () =>
          Promise.resolve({
            data: Object.fromEntries(
              core.audit.sinks().map((
                s,
              ) => [s.path, {
                type: s.type,
                description: s.description,
                options: s.options,
                local: false,
                path: s.path,
              }]),
            ),
          }),
      },
    },
    {
      pattern: "audit/verify",
      operations: {
        read: () => {
          const r = verifyStoredChain(core.physical, core.audit.key);
          return Promise.resolve({ data: verifyResultView(r) });
        },
      },
    },
    {
      // For offline `audit verify -key-file`: lets an operator keep the key outside the server.
      pattern: "audit/key",
      sudo: true,
      operations: {
        read: () => Promise.resolve({ data: { key: toHex(core.audit.key) } }),
      },
    },
    {
      pattern: "audit/:path+",
      sudo: true,
      input: { write: enableSchema },
      operations: {
        update: async (r) => {
          const d = r.data as v.InferOutput<typeof enableSchema>;
          const path = r.params.path!.replace(/\/+$/, "") + "/";
          if (d.options.file_path === "stdout" || d.options.file_path === "discard") {
            throw new BadRequest("file_path must be a file");
          }
          try {
            core.audit.enableSink({
              path,
              type: "file",
              description: d.description,
              options: { file_path: d.options.file_path },
            });
          } catch (e) {
            throw new BadRequest(`cannot open audit file: ${(e as Error).message}`);
          }
          await core.saveAuditSinks();
        },
        delete: async (r) => {
          core.audit.disableSink(r.params.path!.replace(/\/+$/, "") + "/");
          await core.saveAuditSinks();
        },
      },
    },
    {
      pattern: "audit-hash/:path+",
      injectTopLevel: true,
      input: { write: v.object({ input: v.string("input is required") }) },
      operations: {
        update: (r) => Promise.resolve({ data: { hash: core.audit.hash(r.data.input as string) } }),
      },
    },
  ];
}
