/**
 * sys/policies/simulate (the same Acl.check the request path uses, fed a hypothetical request)
 * and sys/policy-templates (list, describe, instantiate into a named policy).
 */
import { BadRequest, NotFound, PermissionDenied } from "../../lib/errors.ts";
import * as fields from "../../lib/fields.ts";
import { v } from "../../lib/fields.ts";
import type { Core } from "../core.ts";
import type { CorePathSpec, CoreResponse } from "../router/types.ts";
import { simulate } from "../policy/simulate.ts";
import { evalContext, routeNeedsSudo } from "../http/pipeline.ts";
import { getTemplate, POLICY_TEMPLATES, renderTemplate } from "../policy/templates.ts";

const OPERATIONS = ["read", "create", "update", "patch", "delete", "list"] as const;

const simulateSchema = v.object({
  policies: v.optional(fields.policyList),
  token: v.optional(v.pipe(v.string(), v.maxLength(256))),
  path: v.pipe(v.string("path is required"), v.minLength(1, "path is required"), v.maxLength(1024)),
  operation: v.picklist(OPERATIONS, `operation must be one of ${OPERATIONS.join(", ")}`),
  remote_address: v.optional(v.pipe(v.string(), v.maxLength(64))),
  time: v.optional(v.pipe(v.string(), v.maxLength(64))),
  token_ttl: v.optional(fields.duration),
  data: v.optional(fields.plainObject(v.record(v.string(), v.unknown())), {}),
  wrap_ttl: v.optional(fields.duration),
});

const instantiateSchema = v.object({
  name: v.pipe(
    v.string("name (the policy to create) is required"),
    v.regex(/^[a-zA-Z0-9_.@-]{1,128}$/, "invalid policy name"),
  ),
  parameters: v.optional(fields.plainObject(v.record(v.string(), v.unknown())), {}),
});

function listTemplates(): Promise<CoreResponse> {
  return Promise.resolve({ data: { keys: POLICY_TEMPLATES.map((t) => t.name) } });
}

export function policyToolRoutes(core: Core): CorePathSpec[] {
  return [
    {
      pattern: "policies/simulate",
      input: { write: simulateSchema },
      operations: {
        update: async (r) => {
          const d = r.data as v.InferOutput<typeof simulateSchema>;
          let policies = d.policies;
          let tokenTtl = d.token_ttl;
          if (d.token !== undefined) {
            const t = await core.tokens.lookup(d.token);
            if (!t) throw new BadRequest("invalid token");
            policies = t.policies;
            tokenTtl ??= core.tokens.ttlOf(t);
          }
          if (!policies) throw new BadRequest("give either policies or token");
          const acl = await core.policies.acl([...new Set(policies)].sort());
          const path = d.path.replace(/^\/+/, "");
          const needSudo = routeNeedsSudo(core, path, d.operation);
          let result;
          try {
            result = simulate(acl, {
              path,
              operation: d.operation,
              remoteAddress: d.remote_address,
              time: d.time,
              tokenTtl,
              data: d.data,
              wrapTtl: d.wrap_ttl,
              // A root-protected route (sys/auth/*, sys/audit/*, …) needs sudo as well, exactly
              // as the pipeline asks of a real request.
              needSudo,
            }, core.now());
          } catch (e) {
            throw new BadRequest((e as Error).message);
          }
          return { data: { ...result, sudo_required: needSudo } };
        },
      },
    },
    {
      pattern: "policy-templates",
      operations: {
        read: listTemplates,
        list: listTemplates,
      },
    },
    {
      pattern: "policy-templates/",
      operations: {
        list: listTemplates,
      },
    },
    {
      pattern: "policy-templates/:name",
      input: { write: instantiateSchema },
      operations: {
        read: (r) => {
          const t = getTemplate(r.params.name!);
          if (!t) throw new NotFound(`no policy template "${r.params.name}"`);
          return Promise.resolve({
            data: {
              name: t.name,
              description: t.description,
              parameters: t.parameters,
              alert: t.alert ?? false,
            },
          });
        },
        update: async (r) => {
          const t = getTemplate(r.params.name!);
          if (!t) throw new NotFound(`no policy template "${r.params.name}"`);
          const d = r.data as v.InferOutput<typeof instantiateSchema>;
          const text = renderTemplate(t.name, d.parameters);
          // Writing a policy through a template is writing that policy: the caller needs what
          // sys/policies/acl/<name> would ask of it, or this route would let it widen its own
          // policy (or replace anyone's) with any capability, sudo included.
          const target = `sys/policies/acl/${fields.policyName(d.name)}`;
          const op = await core.policies.read(d.name) ? "update" : "create";
          const acl = await core.policies.acl(r.token!.policies);
          if (!acl.check(target, op, false, evalContext(core, r)).allowed) {
            throw new PermissionDenied();
          }
          await core.policies.write(d.name, text, { alert: t.alert ?? false, template: t.name });
          return { data: { name: fields.policyName(d.name), template: t.name, policy: text } };
        },
      },
    },
  ];
}
