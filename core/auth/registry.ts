/** Auth method types that can be enabled with `sys/auth`. Adding one = a folder + a line here. */
import type { AuthMethodFactory } from "./types.ts";
import { approleFactory } from "./approle/mod.ts";
import { jwtFactory } from "./jwt/mod.ts";
import { userpassFactory } from "./userpass/mod.ts";

export const AUTH_METHODS: Record<string, AuthMethodFactory> = {
  approle: approleFactory,
  jwt: jwtFactory,
  userpass: userpassFactory,
};
