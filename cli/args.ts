/**
 * Positional-argument arity checks, so every command reports a wrong count the same way.
 * @module
 */
import type { Ctx } from "./command.ts";
import { UsageError } from "./errors.ts";

/** Returns the positionals when their count is within [min, max]; otherwise a usage error. */
export function expectArgs(ctx: Ctx, min: number, max: number = min): string[] {
  const n = ctx.args.length;
  if (n < min) throw new UsageError(`Not enough arguments (expected ${range(min, max)}, got ${n})`);
  if (n > max) throw new UsageError(`Too many arguments (expected ${range(min, max)}, got ${n})`);
  return ctx.args;
}

function range(min: number, max: number): string {
  if (max === Infinity) return `at least ${min}`;
  return min === max ? String(min) : `${min} to ${max}`;
}
