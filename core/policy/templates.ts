/**
 * Policy templates: named, parameterised policies (`GET /v1/sys/policy-templates`) that render to
 * ordinary HCL with `conditions` blocks, so an instantiated template is stored, read back and
 * enforced like any hand-written policy.
 *
 * Parameters are validated before rendering and every string is written as an escaped HCL
 * string, so no parameter can add keys, blocks or paths of its own; the output is parsed once
 * more before it is returned.
 *
 * @module
 */
import { parseCidr } from "../../lib/cidr.ts";
import { parseDuration } from "../../lib/duration.ts";
import { BadRequest, NotFound } from "../../lib/errors.ts";
import { patternError } from "./_pattern.ts";
import { isCapability } from "./_rules.ts";
import { parseDate, parseTimeWindow, parseWeekday, resolveTimezone } from "./conditions.ts";
import { parsePolicy } from "./parse.ts";

export type TemplateParameterType =
  | "string"
  | "string_list"
  | "duration"
  | "cidr_list"
  | "time_window"
  | "date"
  | "timezone";

export interface TemplateParameter {
  readonly name: string;
  readonly description: string;
  readonly required: boolean;
  readonly default?: unknown;
  readonly type: TemplateParameterType;
  /**
   * Extra validation: "path_prefix" (a policy path without wildcards), "name" (one path
   * segment), "capabilities", "days" (weekday names).
   */
  readonly format?: "path_prefix" | "name" | "capabilities" | "days";
}

export interface PolicyTemplate {
  readonly name: string;
  readonly description: string;
  readonly parameters: readonly TemplateParameter[];
  /**
   * Break-glass: the core should write a loud audit entry and fire its alert hook when a policy
   * made from this template is instantiated and whenever it is used.
   */
  readonly alert?: boolean;
  /**
   * Validates `params` (BadRequest on a missing, unknown or malformed parameter), applies
   * defaults and returns the policy as HCL.
   */
  render(params: Record<string, unknown>): string;
}

/** Validated parameters: strings and string lists, durations in seconds. */
type Values = Record<string, string | string[] | number | undefined>;

interface Definition {
  name: string;
  description: string;
  parameters: TemplateParameter[];
  alert?: boolean;
  body(v: Values): string;
}

/** Longest a break-glass token may live and still satisfy emergency_access. */
const EMERGENCY_MAX_TTL = 4 * 3600;

/**
 * Path parameters are restricted to characters that policy paths use, which leaves out quotes,
 * braces, "#", "*", whitespace and newlines: nothing that could end a string or start HCL.
 */
const PATH_RE = /^[A-Za-z0-9_.\-\/+@:=]+$/;
const NAME_RE = /^[A-Za-z0-9_.\-]+$/;
const CIDR_RE = /^[0-9A-Fa-f:.\/]+$/;
const MAX_STRING = 256;
const MAX_LIST = 64;

const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"];
const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const READ_LIST = ["read", "list"];
const READ_WRITE = ["create", "read", "update", "patch", "delete", "list"];

const pathPrefix = (description: string, required = true, dflt?: string): TemplateParameter => ({
  name: "path_prefix",
  description,
  required,
  type: "string",
  format: "path_prefix",
  ...(dflt === undefined ? {} : { default: dflt }),
});

const capabilities = (dflt: string[]): TemplateParameter => ({
  name: "capabilities",
  description: "Capabilities granted on the paths",
  required: false,
  default: dflt,
  type: "string_list",
  format: "capabilities",
});

/** The KV v2 mount and environment folder a per-environment template applies to. */
const kvEnvironment = (env: string): TemplateParameter[] => [
  {
    name: "mount",
    description: "KV v2 mount",
    required: false,
    default: "secret",
    type: "string",
    format: "name",
  },
  {
    name: "environment",
    description: "Environment folder under the mount",
    required: false,
    default: env,
    type: "string",
    format: "name",
  },
];

const cidrs = (required: boolean, name = "cidrs", description?: string): TemplateParameter => ({
  name,
  description: description ??
    (required
      ? "Source networks (IPv4 or IPv6 CIDRs) requests must come from"
      : "Optional source networks (IPv4 or IPv6 CIDRs) requests must come from"),
  required,
  type: "cidr_list",
});

const timezone = (name = "timezone", description?: string): TemplateParameter => ({
  name,
  description: description ?? "IANA time zone the time conditions are read in",
  required: false,
  default: "UTC",
  type: "timezone",
});

const DEFINITIONS: Definition[] = [
  {
    name: "business_hours",
    description: "Access under a path only during working hours on working days.",
    parameters: [
      pathPrefix('Path prefix access is granted under, e.g. "secret/data/app/"'),
      capabilities(READ_LIST),
      {
        name: "time_window",
        description: 'Daily window "HH:MM-HH:MM" (end exclusive; may wrap midnight)',
        required: false,
        default: "09:00-17:00",
        type: "time_window",
      },
      {
        name: "days",
        description: 'Weekdays access is allowed on ("mon" … "sun")',
        required: false,
        default: WEEKDAYS,
        type: "string_list",
        format: "days",
      },
      timezone(),
    ],
    body: (v) =>
      pathBlock(`${v.path_prefix}*`, v.capabilities as string[], {
        time_of_day: v.time_window,
        days_of_week: v.days,
        timezone: v.timezone,
      }),
  },
  {
    name: "ip_restricted",
    description: "Access under a path only from the given networks.",
    parameters: [
      pathPrefix('Path prefix access is granted under, e.g. "secret/data/app/"'),
      capabilities(READ_LIST),
      cidrs(true),
    ],
    body: (v) => pathBlock(`${v.path_prefix}*`, v.capabilities as string[], { source_ip: v.cidrs }),
  },
  {
    name: "read_only",
    description: "Read and list under a path, optionally only from the given networks.",
    parameters: [
      pathPrefix('Path prefix read access is granted under, e.g. "secret/data/app/"'),
      cidrs(false),
    ],
    body: (v) => pathBlock(`${v.path_prefix}*`, READ_LIST, { source_ip: v.cidrs }),
  },
  {
    name: "emergency_access",
    description: "Break-glass access for short-lived tokens only (max_ttl at most 4h); " +
      "instantiating and using it raises an alert.",
    alert: true,
    parameters: [
      pathPrefix('Path prefix emergency access is granted under, e.g. "secret/data/prod/"'),
      capabilities(READ_WRITE),
      {
        name: "max_ttl",
        description: "Longest remaining token TTL that may use the policy (at most 4h)",
        required: false,
        default: "1h",
        type: "duration",
      },
      cidrs(false),
    ],
    body: (v) => {
      if ((v.max_ttl as number) > EMERGENCY_MAX_TTL) {
        throw new BadRequest(
          `parameter "max_ttl": break-glass access allows at most ${EMERGENCY_MAX_TTL}s`,
        );
      }
      return pathBlock(`${v.path_prefix}*`, v.capabilities as string[], {
        source_ip: v.cidrs,
        max_ttl: v.max_ttl,
      });
    },
  },
  {
    name: "dev_environment",
    description: "Full KV v2 access to one environment's secrets (data, metadata, versions).",
    parameters: [
      ...kvEnvironment("dev"),
      cidrs(false),
    ],
    body: (v) => {
      const at = (kind: string) => `${v.mount}/${kind}/${v.environment}/*`;
      const cond = { source_ip: v.cidrs };
      return [
        pathBlock(at("data"), READ_WRITE, cond),
        pathBlock(at("metadata"), ["read", "update", "delete", "list"], cond),
        pathBlock(at("delete"), ["update"], cond),
        pathBlock(at("undelete"), ["update"], cond),
        pathBlock(at("destroy"), ["update"], cond),
      ].join("\n");
    },
  },
  {
    name: "production_readonly",
    description: "Read-only KV v2 access to production secrets from approved networks.",
    parameters: [
      ...kvEnvironment("prod"),
      cidrs(true),
      {
        name: "max_ttl",
        description: "Optional: longest remaining token TTL that may use the policy",
        required: false,
        type: "duration",
      },
    ],
    body: (v) => {
      const cond = { source_ip: v.cidrs, max_ttl: v.max_ttl };
      return [
        pathBlock(`${v.mount}/data/${v.environment}/*`, ["read"], cond),
        pathBlock(`${v.mount}/metadata/${v.environment}/*`, READ_LIST, cond),
      ].join("\n");
    },
  },
  {
    name: "time_limited",
    description: "Access under a path between two dates (inclusive), e.g. for a contractor.",
    parameters: [
      pathPrefix('Path prefix access is granted under, e.g. "secret/data/project/"'),
      capabilities(READ_LIST),
      {
        name: "from",
        description: "First day of access, YYYY-MM-DD (default: no start)",
        required: false,
        type: "date",
      },
      {
        name: "to",
        description: "Last day of access, YYYY-MM-DD (inclusive)",
        required: true,
        type: "date",
      },
      timezone(),
    ],
    body: (v) => {
      if (v.from !== undefined && parseDate(v.from as string) > parseDate(v.to as string)) {
        throw new BadRequest(`parameter "from" is after "to"`);
      }
      return pathBlock(`${v.path_prefix}*`, v.capabilities as string[], {
        date_range: { from: v.from, to: v.to },
        timezone: v.timezone,
      });
    },
  },
  {
    name: "multi_region",
    description: "Access from any of several regional networks; with time_window, each " +
      "region only during its own local hours.",
    parameters: [
      pathPrefix('Path prefix access is granted under, e.g. "secret/data/app/"'),
      capabilities(READ_LIST),
      cidrs(true, "region_a_cidrs", "Networks of the first region"),
      timezone("region_a_timezone", "Time zone of the first region"),
      cidrs(true, "region_b_cidrs", "Networks of the second region"),
      timezone("region_b_timezone", "Time zone of the second region"),
      cidrs(false, "region_c_cidrs", "Optional networks of a third region"),
      timezone("region_c_timezone", "Time zone of the third region"),
      {
        name: "time_window",
        description: 'Optional daily window "HH:MM-HH:MM", read in each region\'s time zone',
        required: false,
        type: "time_window",
      },
    ],
    // One block per region: rules with different conditions stay separate and any one of them
    // grants, so each region's network is tied to its own local hours.
    body: (v) =>
      ["a", "b", "c"]
        .filter((r) => v[`region_${r}_cidrs`] !== undefined)
        .map((r) =>
          pathBlock(`${v.path_prefix}*`, v.capabilities as string[], {
            source_ip: v[`region_${r}_cidrs`],
            time_of_day: v.time_window,
            timezone: v.time_window === undefined ? undefined : v[`region_${r}_timezone`],
          })
        )
        .join("\n"),
  },
];

/** Every built-in template, in a stable order. */
export const POLICY_TEMPLATES: readonly PolicyTemplate[] = Object.freeze(
  DEFINITIONS.map((d): PolicyTemplate => {
    const t: PolicyTemplate = {
      name: d.name,
      description: d.description,
      parameters: Object.freeze(d.parameters.map((p) => Object.freeze(p))),
      ...(d.alert ? { alert: true } : {}),
      render: (params) => d.body(validate(t, params)),
    };
    return Object.freeze(t);
  }),
);

/** The template called `name`, or undefined. */
export function getTemplate(name: string): PolicyTemplate | undefined {
  return POLICY_TEMPLATES.find((t) => t.name === name);
}

/**
 * Renders a template to HCL ready for `sys/policies/acl/:name`.
 *
 * @throws NotFound for an unknown template; BadRequest for a missing, unknown or malformed
 * parameter.
 */
export function renderTemplate(name: string, params: Record<string, unknown>): string {
  const t = getTemplate(name);
  if (!t) throw new NotFound(`unknown policy template ${JSON.stringify(name)}`);
  const hcl = t.render(params);
  // The validation above should make this unreachable; it is what guarantees the promise that
  // a rendered template is always a policy the server accepts.
  parsePolicy(`template-${t.name}`, hcl);
  return hcl;
}

function validate(t: PolicyTemplate, params: Record<string, unknown>): Values {
  if (params === null || typeof params !== "object" || Array.isArray(params)) {
    throw new BadRequest("template parameters must be an object");
  }
  const known = new Set(t.parameters.map((p) => p.name));
  for (const k of Object.keys(params)) {
    if (!known.has(k)) {
      throw new BadRequest(
        `unknown parameter ${JSON.stringify(k)} for template "${t.name}"; valid: ${
          [...known].join(", ")
        }`,
      );
    }
  }
  const out: Values = {};
  for (const p of t.parameters) {
    const given = Object.hasOwn(params, p.name) ? params[p.name] : undefined;
    const value = given === undefined || given === null ? p.default : given;
    if (value === undefined) {
      if (p.required) throw new BadRequest(`missing required parameter "${p.name}"`);
      continue;
    }
    try {
      out[p.name] = coerce(p, value);
    } catch (err) {
      if (err instanceof RangeError || err instanceof TypeError) {
        throw new BadRequest(`parameter "${p.name}": ${err.message}`);
      }
      throw err;
    }
  }
  return out;
}

/** @throws RangeError or TypeError describing what is wrong with `value`. */
function coerce(p: TemplateParameter, value: unknown): string | string[] | number {
  switch (p.type) {
    case "string": {
      const s = text(value);
      if (p.format === "name") {
        if (!NAME_RE.test(s)) {
          throw new RangeError(`must be one path segment (letters, digits, _ . -)`);
        }
        return s;
      }
      const path = p.format === "path_prefix" ? s.replace(/^\/+/, "") : s;
      if (!PATH_RE.test(path)) {
        throw new RangeError(
          "may only contain letters, digits and _ . - / + @ : = (no quotes, braces, spaces, *)",
        );
      }
      const err = p.format === "path_prefix" ? patternError(`${path}*`) : null;
      if (err) throw new RangeError(err);
      return path;
    }
    case "string_list": {
      const list = listOf(value).map(text);
      if (p.format === "capabilities") {
        for (const c of list) {
          if (!isCapability(c)) throw new RangeError(`invalid capability ${JSON.stringify(c)}`);
        }
        return [...new Set(list)];
      }
      if (p.format === "days") return [...new Set(list.map((d) => DAY_NAMES[parseWeekday(d)]!))];
      for (const s of list) {
        if (!PATH_RE.test(s)) throw new RangeError(`invalid value ${JSON.stringify(s)}`);
      }
      return list;
    }
    case "duration": {
      if (typeof value !== "string" && typeof value !== "number") {
        throw new TypeError(`must be a duration such as "1h"`);
      }
      const secs = parseDuration(value);
      if (secs <= 0) throw new RangeError("must be a positive duration");
      return secs;
    }
    case "cidr_list":
      return listOf(value).map((v) => {
        const s = text(v).trim();
        // parseCidr tolerates an IPv6 zone ("%eth0") of any characters; a policy has no use for it.
        if (!CIDR_RE.test(s)) throw new RangeError(`invalid CIDR ${JSON.stringify(s)}`);
        return parseCidr(s).text;
      });
    case "time_window":
      return parseTimeWindow(text(value)).text;
    case "date": {
      const s = text(value).trim();
      parseDate(s);
      return s;
    }
    case "timezone":
      return resolveTimezone(text(value)).name;
  }
}

function text(v: unknown): string {
  if (typeof v !== "string") throw new TypeError("must be a string");
  if (v === "" || v.length > MAX_STRING) {
    throw new RangeError(`must be 1 to ${MAX_STRING} characters`);
  }
  return v;
}

/** A JSON list, or a comma-separated string as an HTML form or CLI flag sends it. */
function listOf(v: unknown): unknown[] {
  const list = typeof v === "string" ? v.split(",").map((s) => s.trim()).filter((s) => s) : v;
  if (!Array.isArray(list)) throw new TypeError("must be a list");
  if (list.length === 0) throw new RangeError("must not be empty");
  if (list.length > MAX_LIST) throw new RangeError(`at most ${MAX_LIST} entries`);
  return list;
}

/** Every value goes through JSON.stringify, whose escapes HCL reads the same way. */
function pathBlock(
  pattern: string,
  caps: readonly string[],
  cond: Record<string, unknown>,
): string {
  const lines = [`path ${JSON.stringify(pattern)} {`, `  capabilities = ${list(caps)}`];
  const entries = Object.entries(cond).filter(([, v]) => v !== undefined);
  if (entries.length > 0) {
    lines.push("  conditions {");
    for (const [k, v] of entries) {
      if (typeof v === "number") lines.push(`    ${k} = "${v}s"`);
      else if (Array.isArray(v)) lines.push(`    ${k} = ${list(v as string[])}`);
      else if (typeof v === "string") lines.push(`    ${k} = ${JSON.stringify(v)}`);
      else {
        const range = Object.entries(v as Record<string, unknown>).filter(([, x]) =>
          x !== undefined
        );
        lines.push(`    ${k} {`);
        for (const [rk, rv] of range) lines.push(`      ${rk} = ${JSON.stringify(rv)}`);
        lines.push("    }");
      }
    }
    lines.push("  }");
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

function list(values: readonly string[]): string {
  return `[${values.map((v) => JSON.stringify(v)).join(", ")}]`;
}
