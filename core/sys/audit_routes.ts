/** sys/audit (file sinks), sys/audit/verify (SecretHub: recompute the chain), sys/audit-hash. */
import { BadRequest } from "../../lib/errors.ts";
import { toHex } from "../../lib/crypto.ts";
import { isAbsolute, normalize } from "node:path";
import { bool, plainObject, v } from "../../lib/fields.ts";
import { DISCARD, STDOUT } from "../audit/file_sink.ts";
import { verifyResultView, verifyStoredChain } from "../audit/verify.ts";
import type { Core } from "../core.ts";
import type { CorePathSpec } from "../router/types.ts";

/**
 * An option Vault's file device has whose other values SecretHub does not implement: its Vault
 * default (what SecretHub does anyway) is accepted and ignored, anything else is refused by name
 * rather than silently dropped.
 */
function onlyDefault<T extends v.GenericSchema<unknown, string | boolean>>(
  schema: T,
  value: string | boolean,
  why: string,
) {
  const msg = `only ${JSON.stringify(value)} is supported (${why})`;
  return v.pipe(schema, v.check((x) => x === value, msg));
}

const vaultString = v.string("must be a string");

/**
 * Vault's file device options. A key it does not know, or one of Vault's SecretHub does not
 * implement (fallback, filter, exclude…), is refused by name.
 */
const optionsSchema = v.strictObject(
  {
    file_path: v.pipe(
      v.string("options.file_path is required"),
      v.minLength(1, "options.file_path is required"),
      // A relative path would be resolved against whatever directory the server started in.
      v.check(
        (p) => p === STDOUT || p === DISCARD || isAbsolute(p),
        `must be an absolute path, "${STDOUT}" or "${DISCARD}"`,
      ),
    ),
    // Vault's file device: an octal string the file is chmodded to, even when it exists already
    // ("0000": leave the mode alone); "0600" when not given.
    mode: v.optional(
      v.pipe(
        v.string('options.mode must be an octal string such as "0600"'),
        v.regex(/^[0-7]{1,5}$/, 'options.mode must be an octal string such as "0600"'),
        v.check((m) => parseInt(m, 8) <= 0o7777, "options.mode is out of range"),
      ),
    ),
    format: v.optional(onlyDefault(vaultString, "json", "records are JSON lines")),
    prefix: v.optional(onlyDefault(vaultString, "", "lines carry no prefix")),
    hmac_accessor: v.optional(onlyDefault(bool, true, "token accessors are always HMAC'd")),
    log_raw: v.optional(onlyDefault(bool, false, "records are always HMAC'd")),
    elide_list_responses: v.optional(
      onlyDefault(bool, false, "list responses are logged whole"),
    ),
  },
  "not an option SecretHub's file audit device supports",
);

const enableSchema = v.object({
  type: v.picklist(["file"], "only the file audit device is supported"),
  description: v.optional(v.pipe(v.string(), v.maxLength(1024)), ""),
  options: plainObject(optionsSchema, "options must be a map"),
  // Vault's local: not replicated to other clusters. There is no replication here, and the
  // table lists every device as local: false.
  local: v.optional(onlyDefault(bool, false, "SecretHub does not replicate audit devices")),
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

/** The enabled device that writes to `filePath` (however the path is spelled), if any. */
function fileWriter(core: Core, filePath: string): string | undefined {
  if (filePath === DISCARD) return undefined;
  const target = normalize(filePath);
  return core.audit.sinks().find((s) => normalize(s.options.file_path!) === target)?.path;
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
          const { file_path, mode } = d.options;
          if (mode !== undefined && (file_path === STDOUT || file_path === DISCARD)) {
            throw new BadRequest(`options.mode: only applies to a file, not "${file_path}"`);
          }
          // Vault: a device is enabled once; re-enabling needs a disable first (which a second
          // PUT used to do silently, reopening the file under a new config).
          const taken = core.audit.conflicting(path);
          if (taken !== undefined) {
            throw new BadRequest(
              `path already in use: audit device "${taken}" is enabled; disable it first`,
            );
          }
          // Two devices on one file would write every record into it twice.
          const writer = fileWriter(core, file_path);
          if (writer !== undefined) {
            throw new BadRequest(
              `options.file_path: audit device "${writer}" already writes to ${
                JSON.stringify(file_path)
              }`,
            );
          }
          try {
            core.audit.enableSink({
              path,
              type: "file",
              description: d.description,
              options: { file_path, ...(mode === undefined ? {} : { mode }) },
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
      input: { write: v.object({ input: v.optional(weakString, "") }) },
      operations: {
        update: (r) => {
          // Vault's words, for a missing input too: a hash of nothing proves nothing.
          if (r.data.input === "") throw new BadRequest('the "input" parameter is empty');
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
