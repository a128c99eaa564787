/**
 * The audit floor: what keeping Vault's audit promise costs on this machine, with nothing else.
 * A bare Hono app (as bench/hello.ts) where each GET looks its token up in a Map, builds one audit
 * entry (the shape a KV read writes) and replies only after the entry is in the hash chain and
 * committed, through the real storage path (LibsqlStorage: writer thread, group commit, 16-row
 * inserts, the chain linked in JS). No barrier, ACL, KV or metrics. kv_read cannot beat this, so
 * `audit_floor_vs_hello` bounds `kv_read_vs_hello` from above.
 *
 *   deno run -A bench/audit_floor.ts PORT
 */
import { Hono } from "hono";
import { LibsqlStorage } from "../core/storage/libsql_storage.ts";

const port = Number(Deno.args[0] ?? "8298");
const dir = await Deno.makeTempDir({ prefix: "secrethub-floor-" });
const storage = await LibsqlStorage.open(`${dir}/floor.db`);
storage.setAuditKey(crypto.getRandomValues(new Uint8Array(32)));
const tokens = new Map([["floor-token", { accessor: "hmac-sha256:" + "a".repeat(64) }]]);
const reply =
  `"lease_id":"","renewable":false,"lease_duration":0,"data":{"data":{"password":"s3cr3t-bench","username":"app"},"metadata":{"created_time":"2026-01-01T00:00:00.000Z","custom_metadata":null,"deletion_time":"","destroyed":false,"version":1}},"wrap_info":null,"warnings":null,"auth":null,"mount_type":"kv"}`;

const app = new Hono();
app.get("/v1/*", async (c) => {
  const token = tokens.get(c.req.header("x-vault-token") ?? "");
  if (!token) return c.json({ errors: ["permission denied"] }, 403);
  const id = crypto.randomUUID();
  await storage.transaction([], [
    `{"operation":"read","path":"secret/data/bench/db","policies":["bench","default"],"remote_address":"127.0.0.1","request_id":"${id}","response_hmac":"hmac-sha256:${
      "b".repeat(64)
    }","result":"ok","status":200,"time":"${
      new Date().toISOString()
    }","token_accessor":"${token.accessor}","type":"exchange"}`,
  ]);
  return c.body(`{"request_id":"${id}",${reply}`, 200, { "content-type": "application/json" });
});
const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, app.fetch);
Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  await storage.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  Deno.exit(0);
});
