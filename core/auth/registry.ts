/** Auth method types that can be enabled with `sys/auth`. Adding one = a folder + a line here. */
import type { AuthMethodFactory } from "./types.ts";
import { approleFactory } from "./approle/mod.ts";

export const AUTH_METHODS: Record<string, AuthMethodFactory> = {
  approle: approleFactory,
};
