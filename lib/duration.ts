/** Go-style durations ("1h30m", "90s", "500ms", "2d") and plain seconds, as Vault accepts them. */

const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  "µs": 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
};

/**
 * Go's time.Duration is int64 nanoseconds, so Vault (parseutil.ParseDurationSecond) refuses
 * anything past 2562047h47m16.854775807s as an overflow. Holding the same line keeps every stored
 * duration small enough for Date arithmetic and for formatDuration to print plain digits.
 */
export const MAX_DURATION_SECONDS = 9_223_372_036;
// The exact limit, fraction included, so "2562047h47m16.8s" is accepted as Go accepts it.
const MAX_EXACT_SECONDS = 9_223_372_036.854775807;

/**
 * Parses a duration to whole seconds (rounded down, but never from a positive value to 0); throws
 * RangeError on bad or too large input.
 */
export function parseDuration(input: string | number): number {
  if (typeof input === "number") {
    if (!Number.isFinite(input) || input < 0) throw new RangeError(`invalid duration "${input}"`);
    return bounded(input, input);
  }
  const s = input.trim();
  if (s === "") return 0;
  if (/^\d+$/.test(s)) return bounded(Number(s), input);
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos !== s.length || pos === 0) throw new RangeError(`invalid duration "${input}"`);
  return bounded(total, input);
}

function bounded(seconds: number, input: string | number): number {
  if (!(seconds <= MAX_EXACT_SECONDS)) {
    throw new RangeError(`invalid duration "${input}": overflows the maximum of 2562047h47m16s`);
  }
  // A positive duration under a second ("500ms") is one second, not zero: zero means "unset" to
  // most callers (a token TTL becomes the 768 h default, a wrap TTL no wrapping at all).
  return seconds > 0 && seconds < 1 ? 1 : Math.floor(seconds);
}

/** Formats seconds as a Go duration string ("0s", "3h25m19s"), as KV v2 reports delete_version_after. */
export function formatDuration(seconds: number): string {
  if (!(seconds > 0)) return "0s";
  // Nothing valid exceeds the Go limit; clamping keeps a value stored before that bound existed
  // printing as digits rather than "1e+22h".
  const total = Math.min(seconds, MAX_DURATION_SECONDS);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  let out = "";
  if (h) out += `${h}h`;
  if (h || m) out += `${m}m`;
  // A fractional second (never from parseDuration) as Go prints it, without "1e-7" notation.
  out += `${Number.isInteger(s) ? s : s.toFixed(9).replace(/\.?0+$/, "")}s`;
  return out;
}
