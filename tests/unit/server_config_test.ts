import assert from "node:assert/strict";
import { parseConfig } from "../../core/config.ts";

const ok = { listener: {}, storage: { path: "/var/lib/secrethub" } };

function error(cfg: unknown): string {
  try {
    parseConfig(JSON.stringify(cfg), "/etc/secrethub/s.json");
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("parseConfig accepted it");
}

Deno.test("parseConfig() names a missing or unknown key, with the file", () => {
  const f = "/etc/secrethub/s.json";
  assert.equal(error({ listener: {} }), `${f}: missing required config key "storage"`);
  assert.equal(error({ storage: ok.storage }), `${f}: missing required config key "listener"`);
  assert.equal(error({ ...ok, storage: {} }), `${f}: missing required config key "storage.path"`);
  assert.equal(error({ ...ok, x: 1 }), `${f}: unknown config key "x"`);
  assert.equal(
    error({ ...ok, listener: { adress: "a:1" } }),
    `${f}: unknown config key "listener.adress"`,
  );
  assert.equal(
    error({ ...ok, agent_listener: { foo: true } }),
    `${f}: unknown config key "agent_listener.foo"`,
  );
  // Other problems still name the key and say what is wrong with its value.
  assert.match(
    error({ ...ok, max_request_size: "big" }),
    /invalid config key "max_request_size": .*number/,
  );
  assert.equal(error([]), `${f}: the config must be a JSON object`);
  assert.equal(error(null), `${f}: the config must be a JSON object`);
});

Deno.test("parseConfig() checks the listen addresses' syntax", () => {
  const f = "/etc/secrethub/s.json";
  assert.equal(
    error({ ...ok, listener: { address: "notanaddress" } }),
    `${f}: invalid config key "listener.address": invalid listen address "notanaddress" (want HOST:PORT)`,
  );
  assert.match(
    error({ ...ok, listener: { address: "h:70000" } }),
    /"listener\.address": invalid port/,
  );
  assert.match(
    error({ ...ok, agent_listener: { address: "8201" } }),
    /invalid config key "agent_listener\.address": invalid listen address "8201"/,
  );
  for (const address of ["127.0.0.1:8200", "[::1]:8200", ":8200", "localhost:0"]) {
    assert.equal(
      parseConfig(JSON.stringify({ ...ok, listener: { address } }), f).listener.address,
      address,
    );
  }
});

const parse = (cfg: unknown) => parseConfig(JSON.stringify(cfg), "/etc/secrethub/s.json");

Deno.test("parseConfig() reads log_level in any case, as Vault", () => {
  for (const [given, level] of [["INFO", "info"], ["Debug", "debug"], ["warn", "warn"]]) {
    assert.equal(parse({ ...ok, log_level: given }).log_level, level);
  }
  assert.throws(() => parse({ ...ok, log_level: "loud" }), /invalid config key "log_level"/);
});

Deno.test("parseConfig() reads listener.tls_disable as Vault does: bool, bool string or integer", () => {
  const cases: [unknown, boolean][] = [
    [true, true],
    [false, false],
    ["true", true],
    ["false", false],
    ["1", true],
    ["0", false],
    ["TRUE", true],
    ["f", false],
    [1, true],
    [0, false],
  ];
  for (const [given, want] of cases) {
    const c = parse({ ...ok, listener: { tls_disable: given } });
    assert.equal(c.listener.tls_disable, want, JSON.stringify(given));
  }
  for (const bad of ["yes please", 1.5, [], {}, null]) {
    assert.throws(
      () => parse({ ...ok, listener: { tls_disable: bad } }),
      /invalid config key "listener\.tls_disable"/,
      JSON.stringify(bad),
    );
  }
});
