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
    // Vault's file device: an octal string the file is chmodded to, even when it exists already
    // ("0000": leave the mode alone); "0600" when not given.
    mode: v.optional(
      v.pipe(
        v.string('options.mode must be an octal string such as "0600"'),
        v.regex(/^[0-7]{1,5}$/, 'options.mode must be an octal string such as "0600"'),
        v.check((m) => parseInt(m, 8) <= 0o7777, "options.mode is out of range"),
      ),
    ),
  }),
  local: v.optional(v.unknown()),
});

/**
 * Vault's `input` is a string field decoded weakly: 4711 is "4711" (the decimal text, the same
 * text a number in audit data is HMAC'd from, so the two hashes match) and true/false "1"/"0".
 */
const weakString = v.pipe(
  v.union([v.string(), v.number(), v.boolean()], "input is required"),
  v.transform((x) => typeof x === "boolean" ? (x ? "1" : "0") : String(x)),
);

/** "file", "file/" and "/file//" all name the device "file/". */
function devicePath(p: string): string {
  const t = p.replace(/^\/+|\/+$/g, "");
  if (!t) throw new BadRequest("audit device path is required");
  return t + "/";
}

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
          const path = devicePath(r.params.path!);
          if (d.options.file_path === "stdout" || d.options.file_path === "discard") {
            throw new BadRequest("file_path must be a file");
          }
          // Vault: a device is enabled once; re-enabling needs a disable first (which a second
          // PUT used to do silently, reopening the file under a new config).
          const taken = core.audit.conflicting(path);
          if (taken !== undefined) {
            throw new BadRequest(
              `path already in use: audit device "${taken}" is enabled; disable it first`,
            );
          }
          try {
            core.audit.enableSink({
              path,
              type: "file",
              description: d.description,
              options: {
                file_path: d.options.file_path,
                ...(d.options.mode === undefined ? {} : { mode: d.options.mode }),
              },
            });
          } catch (e) {
            throw new BadRequest(`cannot open audit file: ${(e as Error).message}`);
          }
          await core.saveAuditSinks();
        },
        delete: async (r) => {
          core.audit.disableSink(devicePath(r.params.path!));
          await core.saveAuditSinks();
        },
      },
    },
    {
      pattern: "audit-hash/:path+",
      injectTopLevel: true,
      input: { write: v.object({ input: weakString }) },
      operations: {
        update: (r) => {
          // Vault hashes with the named device's salt and refuses an unknown device. Here every
          // device (and the chain) shares one key, but a typo still must not look like success.
          const path = devicePath(r.params.path!);
          if (!core.audit.sink(path)) {
            throw new BadRequest(`unknown audit device "${path}": no audit device enabled there`);
          }
          return Promise.resolve({ data: { hash: core.audit.hash(r.data.input as string) } });
        },
      },
    },
  ];
}
