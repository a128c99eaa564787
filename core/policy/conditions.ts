/**
 * Conditions on a path rule (`conditions { ... }`): compiled once when the policy is parsed, then
 * evaluated on every request by the one evaluator in acl.ts. Compilation refuses anything it does
 * not understand, so a typo can never turn a restriction into a no-op; evaluation fails closed,
 * so a condition that cannot be decided never lets a request through.
 *
 * @module
 */
import { type Cidr, cidrContains, parseCidr, parseIp } from "../../lib/cidr.ts";
import { parseDuration } from "../../lib/duration.ts";
import { type HclValue, isHclObject } from "./_hcl.ts";
import type { EvalContext } from "./types.ts";

/** The accepted keys, in the order they are evaluated and reported. */
export const CONDITION_KEYS: readonly string[] = Object.freeze([
  "source_ip",
  "time_of_day",
  "days_of_week",
  "date_range",
  "timezone",
  "max_ttl",
]);

/** The conditions as written, normalised; JSON-safe, for display. */
export interface ConditionSpec {
  source_ip?: string[];
  /** "HH:MM-HH:MM", start inclusive, end exclusive; wraps midnight when end ≤ start. */
  time_of_day?: string;
  /** Three-letter lower-case names, "sun" … "sat". */
  days_of_week?: string[];
  /** Inclusive calendar days (YYYY-MM-DD) in `timezone`. */
  date_range?: { from?: string; to?: string };
  /** Canonical IANA name (or fixed offset) as Intl resolves it. */
  timezone?: string;
  /** Seconds. */
  max_ttl?: number;
}

/** Where the wall clock of one time zone comes from; shared by every rule using the zone. */
export interface Zone {
  readonly name: string;
  readonly fmt: Intl.DateTimeFormat;
  /** UTC minute (ms / 60 000) the cached offset was computed for. */
  bucket: number;
  offsetMs: number;
}

export interface CompiledConditions {
  readonly spec: Readonly<ConditionSpec>;
  /** Canonical text of `spec`: rules of one pattern merge only when their keys are equal. */
  readonly key: string;
  readonly sourceIp?: readonly Cidr[];
  /** Minutes after local midnight; end may be 1440. */
  readonly timeStart?: number;
  readonly timeEnd?: number;
  /** Bit d set = weekday d allowed, 0 = Sunday. */
  readonly daysMask?: number;
  /**
   * Inclusive bounds as y*10000 + m*100 + d, so bounds compare as numbers for any year (a string
   * compare breaks on years past 9999, which an ISO time given to the simulator may reach).
   */
  readonly dateFrom?: number;
  readonly dateTo?: number;
  /** Display name of the zone the time conditions are read in. */
  readonly timezone: string;
  /** null: UTC, read with plain arithmetic and no Intl. */
  readonly zone: Zone | null;
  /** Seconds. */
  readonly maxTtl?: number;
  /** Any of time_of_day, days_of_week, date_range: the clock must be read. */
  readonly usesClock: boolean;
  /** The compiled form holds bigints and a formatter; serialised, a rule shows `spec`. */
  toJSON(): ConditionSpec;
}

/** Why a rule's conditions did not all hold. */
export interface ConditionFailure {
  /** One entry per failed condition, every condition having been evaluated. */
  readonly reasons: string[];
  /** At least one condition could not be decided (no context, no address, no TTL, ...). */
  readonly unevaluable: boolean;
}

/** Per-request scratch space, so the remote address is parsed at most once per check. */
export interface EvalState {
  readonly ctx: EvalContext | undefined;
  /** undefined: not parsed yet; null: absent or unparsable. */
  ip?: Ip | null;
}

const DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
const FULL_DAY_NAMES = [
  "sunday",
  "monday",
  "tuesday",
  "wednesday",
  "thursday",
  "friday",
  "saturday",
];

/** Names Intl resolves to plain UTC; those skip Intl entirely at evaluation time. */
const UTC_NAMES = new Set(["UTC", "Etc/UTC", "GMT", "Etc/GMT"]);

/** One formatter per zone for the process's life: building one costs far more than using it. */
const ZONES = new Map<string, Zone>();

/**
 * Resolves an IANA time-zone name.
 *
 * @returns The canonical name and its shared Zone, or null for UTC.
 * @throws RangeError for a name Intl does not know.
 */
export function resolveTimezone(name: string): { name: string; zone: Zone | null } {
  if (typeof name !== "string" || name.trim() === "") {
    throw new RangeError("timezone must be a non-empty IANA name");
  }
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat("en-US", {
      timeZone: name.trim(),
      hourCycle: "h23",
      era: "short",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
  } catch {
    throw new RangeError(`unknown timezone ${JSON.stringify(name)}`);
  }
  const canonical = fmt.resolvedOptions().timeZone;
  if (UTC_NAMES.has(canonical)) return { name: "UTC", zone: null };
  let zone = ZONES.get(canonical);
  if (!zone) {
    zone = { name: canonical, fmt, bucket: NaN, offsetMs: 0 };
    ZONES.set(canonical, zone);
  }
  return { name: canonical, zone };
}

/**
 * Parses "HH:MM-HH:MM" into minutes after midnight.
 *
 * @throws RangeError for a malformed window or one whose start equals its end (which would be
 * ambiguous between "never" and "always").
 */
export function parseTimeWindow(s: string): { start: number; end: number; text: string } {
  const m = typeof s === "string"
    ? /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(s)
    : null;
  if (!m) throw new RangeError(`time_of_day must look like "09:00-17:00", got ${show(s)}`);
  const [sh, sm, eh, em] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
  const start = sh * 60 + sm;
  const end = eh * 60 + em;
  if (sh > 23 || sm > 59 || em > 59 || end > 1440) {
    throw new RangeError(`time_of_day has an invalid time: ${show(s)}`);
  }
  if (start === end) {
    throw new RangeError(`time_of_day start and end must differ: ${show(s)}`);
  }
  return { start, end, text: `${hhmm(start)}-${hhmm(end)}` };
}

/**
 * Parses a calendar date "YYYY-MM-DD".
 *
 * @returns y*10000 + m*100 + d.
 * @throws RangeError for anything else, including days that do not exist (2025-02-30).
 */
export function parseDate(s: string): number {
  const m = typeof s === "string" ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(s.trim()) : null;
  if (!m) throw new RangeError(`expected a date "YYYY-MM-DD", got ${show(s)}`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) {
    throw new RangeError(`no such date ${show(s)}`);
  }
  return y * 10000 + mo * 100 + d;
}

/** Parses a weekday name ("mon" or "monday", any case) to 0 (Sunday) … 6. */
export function parseWeekday(s: string): number {
  const lower = typeof s === "string" ? s.trim().toLowerCase() : "";
  let d = DAY_NAMES.indexOf(lower as typeof DAY_NAMES[number]);
  if (d < 0) d = FULL_DAY_NAMES.indexOf(lower);
  if (d < 0) throw new RangeError(`unknown day ${show(s)}; use "mon" … "sun"`);
  return d;
}

/**
 * Compiles a `conditions` block.
 *
 * @param fail Raises the caller's error (BadRequest naming the policy location).
 */
export function compileConditions(
  value: HclValue,
  fail: (msg: string) => never,
): CompiledConditions {
  if (!isHclObject(value)) fail(`"conditions" must be a block { ... }`);
  const raw = new Map<string, HclValue>();
  for (const item of value.items) {
    const key = item.keys.join(" ");
    if (item.keys.length !== 1 || !CONDITION_KEYS.includes(key)) {
      fail(`unknown condition ${JSON.stringify(key)}; valid: ${CONDITION_KEYS.join(", ")}`);
    }
    if (raw.has(key)) fail(`duplicate condition ${JSON.stringify(key)}`);
    raw.set(key, item.value);
  }
  if (raw.size === 0) fail(`"conditions" block is empty`);

  try {
    return compile(raw);
  } catch (err) {
    if (err instanceof RangeError) fail(err.message);
    throw err;
  }
}

function compile(raw: Map<string, HclValue>): CompiledConditions {
  const spec: ConditionSpec = {};
  let sourceIp: Cidr[] | undefined;
  let window: { start: number; end: number } | undefined;
  let daysMask: number | undefined;
  let dateFrom: number | undefined;
  let dateTo: number | undefined;
  let maxTtl: number | undefined;

  const ips = raw.get("source_ip");
  if (ips !== undefined) {
    const list = strings(ips, "source_ip");
    if (list.length === 0) throw new RangeError(`"source_ip" must list at least one CIDR`);
    sourceIp = list.map((c) => {
      try {
        return parseCidr(c);
      } catch {
        throw new RangeError(`"source_ip": invalid CIDR ${show(c)}`);
      }
    });
    spec.source_ip = sourceIp.map((c) => c.text);
  }

  const tod = raw.get("time_of_day");
  if (tod !== undefined) {
    if (typeof tod !== "string") throw new RangeError(`"time_of_day" must be a string`);
    const w = parseTimeWindow(tod);
    window = { start: w.start, end: w.end };
    spec.time_of_day = w.text;
  }

  const days = raw.get("days_of_week");
  if (days !== undefined) {
    const list = strings(days, "days_of_week");
    if (list.length === 0) throw new RangeError(`"days_of_week" must list at least one day`);
    daysMask = 0;
    for (const d of list) daysMask |= 1 << parseWeekday(d);
    spec.days_of_week = DAY_NAMES.filter((_, i) => daysMask! & (1 << i));
  }

  const range = raw.get("date_range");
  if (range !== undefined) {
    if (!isHclObject(range)) throw new RangeError(`"date_range" must be a block { from, to }`);
    const out: { from?: string; to?: string } = {};
    for (const item of range.items) {
      const k = item.keys.join(" ");
      if (k !== "from" && k !== "to") {
        throw new RangeError(`"date_range": unknown key ${JSON.stringify(k)}; use "from", "to"`);
      }
      if (out[k] !== undefined) throw new RangeError(`"date_range": duplicate key "${k}"`);
      if (typeof item.value !== "string") throw new RangeError(`"date_range.${k}" must be a date`);
      const n = parseDate(item.value);
      out[k] = item.value.trim();
      if (k === "from") dateFrom = n;
      else dateTo = n;
    }
    if (dateFrom === undefined && dateTo === undefined) {
      throw new RangeError(`"date_range" needs "from", "to" or both`);
    }
    if (dateFrom !== undefined && dateTo !== undefined && dateFrom > dateTo) {
      throw new RangeError(`"date_range": "from" is after "to"`);
    }
    spec.date_range = out;
  }

  const usesClock = window !== undefined || daysMask !== undefined || range !== undefined;
  let timezone = "UTC";
  let zone: Zone | null = null;
  const tz = raw.get("timezone");
  if (tz !== undefined) {
    if (typeof tz !== "string") throw new RangeError(`"timezone" must be a string`);
    // On its own it would restrict nothing, which is almost certainly not what was meant.
    if (!usesClock) {
      throw new RangeError(`"timezone" needs time_of_day, days_of_week or date_range`);
    }
    ({ name: timezone, zone } = resolveTimezone(tz));
    spec.timezone = timezone;
  }

  const ttl = raw.get("max_ttl");
  if (ttl !== undefined) {
    if (typeof ttl !== "string" && typeof ttl !== "number") {
      throw new RangeError(`"max_ttl" must be a duration`);
    }
    try {
      maxTtl = parseDuration(ttl);
    } catch {
      throw new RangeError(`"max_ttl": invalid duration ${show(ttl)}`);
    }
    if (maxTtl <= 0) throw new RangeError(`"max_ttl" must be positive`);
    spec.max_ttl = maxTtl;
  }

  return Object.freeze({
    spec: Object.freeze(spec),
    key: JSON.stringify(CONDITION_KEYS.map((k) => spec[k as keyof ConditionSpec] ?? null)),
    sourceIp: sourceIp && Object.freeze(sourceIp),
    timeStart: window?.start,
    timeEnd: window?.end,
    daysMask,
    dateFrom,
    dateTo,
    timezone,
    zone,
    maxTtl,
    usesClock,
    toJSON: () => spec,
  });
}

/**
 * Evaluates every condition of one rule.
 *
 * @returns null when all hold; otherwise every failure, in CONDITION_KEYS order.
 */
export function conditionFailures(
  c: CompiledConditions,
  state: EvalState,
): ConditionFailure | null {
  const ctx = state.ctx;
  let reasons: string[] | null = null;
  let unevaluable = false;
  const add = (key: string, detail: string, undecidable: boolean) => {
    (reasons ??= []).push(
      `condition "${key}" ${undecidable ? "cannot be evaluated" : "not satisfied"} (${detail})`,
    );
    if (undecidable) unevaluable = true;
  };

  if (c.sourceIp) {
    if (!ctx) add("source_ip", "no request context", true);
    else if (!ctx.remoteAddress) add("source_ip", "no remote address", true);
    else {
      if (state.ip === undefined) state.ip = cachedIp(ctx.remoteAddress);
      const ip = state.ip;
      if (!ip) add("source_ip", `unparsable remote address ${show(ctx.remoteAddress)}`, true);
      else if (!c.sourceIp.some((cidr) => cidrContains(cidr, ip))) {
        add("source_ip", `${ctx.remoteAddress} not in ${c.spec.source_ip!.join(", ")}`, false);
      }
    }
  }

  if (c.usesClock) {
    const now = ctx?.now;
    const tz = c.timezone;
    if (typeof now !== "number" || !Number.isFinite(now)) {
      const why = ctx ? "no valid current time" : "no request context";
      if (c.timeStart !== undefined) add("time_of_day", why, true);
      if (c.daysMask !== undefined) add("days_of_week", why, true);
      if (c.spec.date_range) add("date_range", why, true);
    } else {
      const local = now + (c.zone ? zoneOffsetMs(c.zone, now) : 0);
      const day = Math.floor(local / 86_400_000);
      if (c.timeStart !== undefined) {
        const minute = Math.floor(local / 60_000) - day * 1440;
        const start = c.timeStart;
        const end = c.timeEnd!;
        const inside = start < end
          ? minute >= start && minute < end
          : minute >= start || minute < end;
        if (!inside) add("time_of_day", `${c.spec.time_of_day} ${tz}`, false);
      }
      if (c.daysMask !== undefined) {
        // 1970-01-01 was a Thursday (4).
        const weekday = (((day + 4) % 7) + 7) % 7;
        if (!(c.daysMask & (1 << weekday))) {
          add("days_of_week", `${c.spec.days_of_week!.join(",")} ${tz}`, false);
        }
      }
      if (c.dateFrom !== undefined || c.dateTo !== undefined) {
        const date = civilFromDays(day);
        if (
          (c.dateFrom !== undefined && date < c.dateFrom) ||
          (c.dateTo !== undefined && date > c.dateTo)
        ) {
          const r = c.spec.date_range!;
          add("date_range", `${r.from ?? "…"} to ${r.to ?? "…"} ${tz}`, false);
        }
      }
    }
  }

  if (c.maxTtl !== undefined) {
    const ttl = ctx?.tokenTtl;
    if (!ctx) add("max_ttl", "no request context", true);
    else if (typeof ttl !== "number" || Number.isNaN(ttl)) add("max_ttl", "no token TTL", true);
    else if (ttl === 0 || ttl === Infinity) {
      add("max_ttl", `token never expires; at most ${c.maxTtl}s allowed`, false);
    } else if (ttl > c.maxTtl) {
      add("max_ttl", `token TTL ${Math.ceil(ttl)}s exceeds ${c.maxTtl}s`, false);
    }
  }

  return reasons === null ? null : { reasons, unevaluable };
}

type Ip = { v6: boolean; value: bigint };
/**
 * Parsing an address (regexes, bigints) costs several times the rest of a check, and clients
 * repeat their addresses; bounded by clearing, since the keys are client-supplied.
 */
const IP_CACHE = new Map<string, Ip | null>();
const IP_CACHE_LIMIT = 4096;

function cachedIp(address: string): Ip | null {
  let ip = IP_CACHE.get(address);
  if (ip === undefined) {
    ip = parseIp(address);
    if (IP_CACHE.size >= IP_CACHE_LIMIT) IP_CACHE.clear();
    if (address.length <= 64) IP_CACHE.set(address, ip);
  }
  return ip;
}

/**
 * The zone's UTC offset at `now`. formatToParts costs microseconds, so the offset is kept per
 * UTC minute: zones with whole-minute offsets change offset only at whole UTC minutes, so the
 * offset found at the start of a minute holds for all of it. Historical offsets with seconds
 * (local mean time) are computed for the exact instant instead.
 */
function zoneOffsetMs(zone: Zone, now: number): number {
  const bucket = Math.floor(now / 60_000);
  if (zone.bucket === bucket) return zone.offsetMs;
  const atStart = rawOffsetMs(zone.fmt, bucket * 60_000);
  if (atStart % 60_000 === 0) {
    zone.bucket = bucket;
    zone.offsetMs = atStart;
    return atStart;
  }
  return rawOffsetMs(zone.fmt, now);
}

function rawOffsetMs(fmt: Intl.DateTimeFormat, t: number): number {
  let y = 0, mo = 1, d = 1, h = 0, mi = 0, s = 0;
  let bc = false;
  for (const p of fmt.formatToParts(t)) {
    switch (p.type) {
      case "year":
        y = Number(p.value);
        break;
      case "month":
        mo = Number(p.value);
        break;
      case "day":
        d = Number(p.value);
        break;
      case "hour":
        h = Number(p.value);
        break;
      case "minute":
        mi = Number(p.value);
        break;
      case "second":
        s = Number(p.value);
        break;
      case "era":
        bc = p.value.startsWith("B");
        break;
    }
  }
  if (bc) y = 1 - y;
  const local = ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + s * 1000;
  return local - Math.floor(t / 1000) * 1000;
}

/**
 * Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm); Date.UTC would map
 * years 0–99 to 19xx.
 */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The inverse of daysFromCivil, as y*10000 + m*100 + d. */
function civilFromDays(days: number): number {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) -
      Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return y * 10000 + m * 100 + d;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(m) ? 30 : 31;
}

function hhmm(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${
    String(minutes % 60).padStart(2, "0")
  }`;
}

function strings(v: HclValue, key: string): string[] {
  if (!Array.isArray(v) || !v.every((e) => typeof e === "string")) {
    throw new RangeError(`"${key}" must be a list of strings`);
  }
  return v as string[];
}

function show(v: unknown): string {
  const s = typeof v === "string" ? v : String(v);
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}
