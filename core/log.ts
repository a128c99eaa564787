/** JSON-line logs to stderr. Callers pass accessors and ids, never tokens or secret values. */
type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

let threshold: Level = "info";

export const LOG_LEVELS = Object.keys(ORDER) as Level[];

/** Own keys only: `l in ORDER` also took "constructor" and "toString", which printed everything. */
export function isLogLevel(l: string): l is Level {
  return Object.hasOwn(ORDER, l);
}

export function setLogLevel(l: string): void {
  if (!isLogLevel(l)) throw new RangeError(logLevelProblem(l));
  threshold = l;
}

export function logLevelProblem(l: string): string {
  return `invalid log level ${JSON.stringify(l)} (one of ${LOG_LEVELS.join(", ")})`;
}

function emit(level: Level, message: string, fields: Record<string, unknown> = {}): void {
  if (ORDER[level] < ORDER[threshold]) return;
  const line = JSON.stringify({
    "@level": level,
    "@message": message,
    "@module": "core",
    "@timestamp": new Date().toISOString(),
    ...fields,
  });
  // deno-lint-ignore no-console
  console.error(line);
}

export const log = {
  debug: (m: string, f?: Record<string, unknown>) => emit("debug", m, f),
  info: (m: string, f?: Record<string, unknown>) => emit("info", m, f),
  warn: (m: string, f?: Record<string, unknown>) => emit("warn", m, f),
  error: (m: string, f?: Record<string, unknown>) => emit("error", m, f),
};
