/**
 * Registered applications, through the barrier at `sys/apps/`:
 *   app/<id>                    AppRecord
 *   name/<name>                 id (names are unique)
 *   cert/<id>/<serial>          AppCertRecord (every certificate issued to the app)
 *   cert-owner/<serial>         id (which app a serial belongs to, for revoke)
 * Serials in keys are canonical (lowercase hex, no separators); records show "aa:bb:…".
 *   bootstrap/<sha256>          BootstrapEntry (one-time token, stored by hash only)
 *   app-bootstrap/<id>/<sha256> index, so deleting an app drops its unused tokens
 */
import { randomBase62, sha256Hex, uuid } from "../../lib/crypto.ts";
import { BadRequest, Conflict, NotFound } from "../../lib/errors.ts";
import { putJSONOp, readJSON, type StorageView, type WriteOp } from "../../engines/sdk.ts";
import { KeyedLock } from "../auth/approle/lock.ts";
import { canonicalSerial, colonSerial } from "../identity/serial.ts";

export type AppStatus = "active" | "suspended";

export interface AppRecord {
  id: string;
  name: string;
  description: string;
  owner: string;
  policies: string[];
  allowed_paths: string[];
  status: AppStatus;
  /** Unix ms. */
  created_time: number;
  updated_time: number;
}

export interface AppCertRecord {
  serial_number: string;
  /** Unix seconds. */
  expiration: number;
  issued_time: number;
  revoked: boolean;
}

export interface BootstrapEntry {
  app_id: string;
  /** Unix ms. */
  expire_time: number;
}

export type AppInput = Partial<
  Pick<AppRecord, "name" | "description" | "owner" | "policies" | "allowed_paths">
>;

const NAMES_LOCK = "names";

export class AppStore {
  readonly #s: StorageView;
  readonly #now: () => number;
  readonly #locks = new KeyedLock();

  constructor(storage: StorageView, now: () => number) {
    this.#s = storage;
    this.#now = now;
  }

  get(id: string): Promise<AppRecord | null> {
    return readJSON<AppRecord>(this.#s, `app/${id}`);
  }

  /** By id, or by name when no app has that id. */
  async find(idOrName: string): Promise<AppRecord | null> {
    const byId = await this.get(idOrName);
    if (byId) return byId;
    const id = await readJSON<string>(this.#s, `name/${idOrName}`);
    return id ? await this.get(id) : null;
  }

  async ids(): Promise<string[]> {
    return (await this.#s.list("app/")).filter((k) => !k.endsWith("/"));
  }

  create(input: AppInput & { name: string }): Promise<AppRecord> {
    return this.#locks.run(NAMES_LOCK, async () => {
      if (await this.#s.get(`name/${input.name}`)) {
        throw new Conflict(`an application named "${input.name}" already exists`);
      }
      const now = this.#now();
      const app: AppRecord = {
        id: uuid(),
        name: input.name,
        description: input.description ?? "",
        owner: input.owner ?? "",
        policies: input.policies ?? [],
        allowed_paths: input.allowed_paths ?? [],
        status: "active",
        created_time: now,
        updated_time: now,
      };
      await this.#s.batch([putJSONOp(`app/${app.id}`, app), putJSONOp(`name/${app.name}`, app.id)]);
      return app;
    });
  }

  /**
   * Runs `fn` with the app's current record under the app's lock, refusing a suspended or gone
   * app. Whatever `fn` creates for the app (a token, a bootstrap token) is then committed either
   * before a suspend or delete takes the lock, so their revoke finds it, or after, and is refused.
   */
  whileActive<T>(id: string, fn: (a: AppRecord) => Promise<T>): Promise<T> {
    return this.#locks.run(`app/${id}`, async () => {
      const a = await this.get(id);
      if (!a) throw new NotFound();
      if (a.status !== "active") throw new BadRequest("application is suspended");
      return await fn(a);
    });
  }

  /** Applies `fn` to the stored record under the app's lock (and the name lock on a rename). */
  update(id: string, fn: (a: AppRecord) => AppRecord): Promise<AppRecord> {
    return this.#locks.runAll([NAMES_LOCK, `app/${id}`], async () => {
      const cur = await this.get(id);
      if (!cur) throw new BadRequest(`no application with id "${id}"`);
      const next = { ...fn(cur), id: cur.id, updated_time: this.#now() };
      const ops: WriteOp[] = [putJSONOp(`app/${id}`, next)];
      if (next.name !== cur.name) {
        if (await this.#s.get(`name/${next.name}`)) {
          throw new Conflict(`an application named "${next.name}" already exists`);
        }
        ops.push({ op: "delete", key: `name/${cur.name}` }, putJSONOp(`name/${next.name}`, id));
      }
      await this.#s.batch(ops);
      return next;
    });
  }

  /** Removes the app and every record about it; returns the serials still to revoke. */
  delete(id: string): Promise<string[]> {
    return this.#locks.runAll([NAMES_LOCK, `app/${id}`], async () => {
      const cur = await this.get(id);
      if (!cur) return [];
      const certs = await this.certs(id);
      const ops: WriteOp[] = [
        { op: "delete", key: `app/${id}` },
        { op: "delete", key: `name/${cur.name}` },
      ];
      for (const c of certs) {
        const k = canonicalSerial(c.serial_number);
        ops.push(
          { op: "delete", key: `cert/${id}/${k}` },
          { op: "delete", key: `cert-owner/${k}` },
        );
      }
      for (const h of await this.#s.list(`app-bootstrap/${id}/`)) {
        ops.push({ op: "delete", key: `app-bootstrap/${id}/${h}` }, {
          op: "delete",
          key: `bootstrap/${h}`,
        });
      }
      await this.#s.batch(ops);
      return certs.filter((c) => !c.revoked).map((c) => c.serial_number);
    });
  }

  async addCert(id: string, serial: string, expiration: number): Promise<void> {
    const k = canonicalSerial(serial);
    const rec: AppCertRecord = {
      serial_number: colonSerial(k),
      expiration,
      issued_time: Math.floor(this.#now() / 1000),
      revoked: false,
    };
    await this.#s.batch([putJSONOp(`cert/${id}/${k}`, rec), putJSONOp(`cert-owner/${k}`, id)]);
  }

  async certs(id: string): Promise<AppCertRecord[]> {
    const out: AppCertRecord[] = [];
    for (const k of await this.#s.list(`cert/${id}/`)) {
      const r = await readJSON<AppCertRecord>(this.#s, `cert/${id}/${k}`);
      if (r) out.push(r);
    }
    return out;
  }

  certOwner(serial: string): Promise<string | null> {
    return readJSON<string>(this.#s, `cert-owner/${canonicalSerial(serial)}`);
  }

  async markRevoked(id: string, serial: string): Promise<void> {
    const key = `cert/${id}/${canonicalSerial(serial)}`;
    const r = await readJSON<AppCertRecord>(this.#s, key);
    if (r && !r.revoked) await this.#s.batch([putJSONOp(key, { ...r, revoked: true })]);
  }

  /** A one-time token for `pki/app/issue`; only its SHA-256 is stored. */
  async createBootstrap(
    id: string,
    ttlSeconds: number,
  ): Promise<{ token: string; expire: number }> {
    const token = `sbt.${randomBase62(32)}`;
    const h = sha256Hex(token);
    const expire = this.#now() + ttlSeconds * 1000;
    const entry: BootstrapEntry = { app_id: id, expire_time: expire };
    await this.#s.batch([
      putJSONOp(`bootstrap/${h}`, entry),
      putJSONOp(`app-bootstrap/${id}/${h}`, 1),
    ]);
    return { token, expire };
  }

  /**
   * Spends a bootstrap token: under a per-token lock the entry is read and its deletion committed
   * durably before this returns, so of two concurrent uses exactly one gets the entry. An expired
   * token is deleted and yields null, like an unknown one.
   */
  consumeBootstrap(token: string): Promise<BootstrapEntry | null> {
    const h = sha256Hex(token);
    return this.#locks.run(`bootstrap/${h}`, async () => {
      const e = await readJSON<BootstrapEntry>(this.#s, `bootstrap/${h}`);
      if (!e) return null;
      await this.#s.batch([
        { op: "delete", key: `bootstrap/${h}` },
        { op: "delete", key: `app-bootstrap/${e.app_id}/${h}` },
      ]);
      return e.expire_time > this.#now() ? e : null;
    });
  }
}
