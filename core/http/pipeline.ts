/**
 * One request, start to finish: operation from the method, mount and path-table match, seal
 * gate, token, ACL, input validation, audit (fail closed), handler, envelope. Every route —
 * sys, auth/token and engines — walks this same path, so ACL and audit can't be skipped.
 */
import { MAX_WRAP_TTL, type WrapInfo, wrappedEnvelope } from "../wrapping.ts";
import {
  BadRequest,
  HttpError,
  MethodNotAllowed,
  NotFound,
  PermissionDenied,
  RequestTimeout,
  Sealed,
  ServiceUnavailable,
  UnsupportedMediaType,
} from "../../lib/errors.ts";
import { parseWith } from "../../lib/fields.ts";
import type { Engine, Operation } from "../../engines/sdk.ts";
import type { AuditInput } from "../audit/entry.ts";
import type { Core } from "../core.ts";
import { matchPath } from "../router/match.ts";
import type {
  CorePathSpec,
  CoreRequest,
  CoreResponse,
  LeaseEnvelope,
  PeerIdentity,
} from "../router/types.ts";
import { type BodyDeadline, fromQuery, readBody, truthy } from "./body.ts";
import { errorResponse, jsonResponse, jsonTextResponse } from "./errors.ts";
import { dataJson } from "./json_memo.ts";
import { Deadlines } from "./deadlines.ts";
import { clientAddress } from "./client_address.ts";
import { inAnyCidr, parseCidr } from "../../lib/cidr.ts";
import { parseDuration } from "../../lib/duration.ts";
import { parameterViolation } from "../policy/params.ts";
import { hasWrappingBounds, wrappingViolation } from "../policy/wrapping.ts";
import type { EvalContext } from "../policy/acl.ts";
import {
  errorType,
  type LeaseEntry,
  type LeaseManager,
  type LeaseSecret,
  revokeUnleased,
} from "../lease/lease_manager.ts";
import type { ResolvedMount } from "../mounts/mount_table.ts";
import { log } from "../log.ts";
import {
  LAST_USE_PENDING,
  LINK_TOKEN_PATH,
  type TokenEntry,
  tokenId,
} from "../token/token_store.ts";

/** The envelope's own keys: data repeated at the top level never overrides them. */
const ENVELOPE_KEYS = new Set([
  "request_id",
  "lease_id",
  "renewable",
  "lease_duration",
  "data",
  "wrap_info",
  "warnings",
  "auth",
  "mount_type",
]);

/**
 * A body not received within the request's deadline. 408, the status for a request the server
 * gave up waiting for: the client was too slow, the server is not unavailable (a 503 would send
 * retries and load balancers elsewhere). Vault's own body-read timeout (Go's read deadline) ends
 * as a 4xx too: the failed read becomes its 400 "error parsing JSON".
 */
const bodyTimedOut = () => new RequestTimeout("request timed out while reading the request body");

const NO_LEASE = '"lease_id":"","renewable":false,"lease_duration":0';

/** JSON of the few strings every reply repeats (mount types), made once. */
const quoted = new Map<string, string>();

function jsonString(s: string): string {
  let q = quoted.get(s);
  if (q === undefined) {
    q = JSON.stringify(s);
    if (quoted.size < 256) quoted.set(s, q);
  }
  return q;
}

const METHODS = new Set(["GET", "HEAD", "LIST", "POST", "PUT", "DELETE", "PATCH"]);

/** Metric labels of matched routes ("kv:data/:path+"), made once per mount type and path spec. */
const routeLabels = new Map<string, WeakMap<CorePathSpec, string>>();

function routeLabel(mountType: string, spec: CorePathSpec): string {
  let bySpec = routeLabels.get(mountType);
  if (!bySpec) routeLabels.set(mountType, bySpec = new WeakMap());
  let label = bySpec.get(spec);
  if (label === undefined) bySpec.set(spec, label = `${mountType}:${spec.pattern}`);
  return label;
}

/**
 * The bare media type of a Content-Type, as Go's mime.ParseMediaType gives Vault: type names are
 * case-insensitive and parameters (`; charset=utf-8`) do not change the type, but a longer name
 * is another type, so a prefix match is not enough.
 */
function mediaType(header: string | null): string {
  if (header === null) return "";
  const semi = header.indexOf(";");
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}

function flag(v: boolean | Operation[] | undefined, op: Operation): boolean {
  return v === true || (Array.isArray(v) && v.includes(op));
}

/** What every reply carries, bodiless ones too: nothing from this API is cacheable. */
const NO_STORE = { "cache-control": "no-store" };

export function tokenFromHeaders(h: Headers): string {
  let t = h.get("x-vault-token") ?? h.get("x-secrethub-token");
  if (t) {
    // A repeated header arrives joined with ", "; Go's Header.Get (Vault) takes the first. A
    // comma without the space is part of one value: a token that cannot exist, not a prefix.
    const joined = t.indexOf(", ");
    if (joined >= 0) t = t.slice(0, joined);
    return t.trim();
  }
  const a = h.get("authorization");
  if (a && /^bearer\s+/i.test(a)) return a.replace(/^bearer\s+/i, "").trim();
  return "";
}

/**
 * Path and query of a request URL without a URL object (a measurable share of a KV read). The
 * path is left as sent: dot segments are not resolved, so decodePath refuses them instead.
 */
export function splitUrl(url: string): { pathname: string; search: string } {
  const scheme = url.indexOf("//");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 2);
  if (start < 0) return { pathname: "/", search: "" };
  const hash = url.indexOf("#", start);
  const end = hash < 0 ? url.length : hash;
  const q = url.indexOf("?", start);
  if (q < 0 || q > end) return { pathname: url.slice(start, end), search: "" };
  // "?" alone is no query, as URL.search has it.
  return { pathname: url.slice(start, q), search: q + 1 < end ? url.slice(q, end) : "" };
}

function decodePath(raw: string): string {
  // Nothing to decode and no dot segment possible: most paths.
  if (!raw.includes("%") && !raw.includes(".") && !raw.includes("\0")) return raw;
  let p: string;
  try {
    p = decodeURIComponent(raw);
  } catch {
    throw new BadRequest("invalid path encoding");
  }
  if (p.split("/").some((s) => s === ".." || s === ".") || p.includes("\0")) {
    throw new BadRequest("invalid path");
  }
  return p;
}

export class Pipeline {
  readonly #core: Core;
  readonly #deadlines: Deadlines;

  constructor(core: Core) {
    this.#core = core;
    this.#deadlines = new Deadlines(core.requestTimeoutMs);
  }

  /**
   * `peer`: the client certificate's identity, verified by the mTLS listener. `viaLink`: the
   * agent hub relays this request for a link (the only caller that may use a link token).
   */
  async handle(
    req: Request,
    peerAddress: string,
    peer?: PeerIdentity,
    viaLink = false,
  ): Promise<Response> {
    const remoteAddress = clientAddress(this.#core.trustedProxies, peerAddress, req.headers);
    const started = performance.now();
    const requestId = crypto.randomUUID();
    let route = "unmatched";
    let res: Response;
    /** The caller's token after this request spent one of its uses (limited-use tokens). */
    const spent: { token: TokenEntry | null } = { token: null };
    try {
      const r = await this.#handle(
        req,
        remoteAddress,
        requestId,
        started,
        (t) => route = t,
        spent,
        peer,
        viaLink,
      );
      res = r;
    } catch (e) {
      res = errorResponse(e, requestId);
    }
    // Any other method was refused (405); one label for all of them keeps the series bounded.
    const method = METHODS.has(req.method) ? req.method : "OTHER";
    // The request took the token's last use: now that it is over (answered or failed), the
    // token goes, with its children and leases, before the client has the reply.
    if (spent.token?.num_uses === LAST_USE_PENDING) await this.#revokeSpent(spent.token);
    this.#core.metrics.observe(method, route, res.status, (performance.now() - started) / 1000);
    return res;
  }

  async #revokeSpent(e: TokenEntry): Promise<void> {
    try {
      await this.#core.tokens.revoke(e.id);
    } catch (err) {
      // Sealed meanwhile, or storage failed: the entry stays marked spent, so no lookup accepts
      // it, and the token sweep removes it.
      log.warn("could not revoke a token after its last use", { error_type: errorType(err) });
    }
  }

  async #handle(
    req: Request,
    remoteAddress: string,
    requestId: string,
    started: number,
    setRoute: (t: string) => void,
    spent: { token: TokenEntry | null },
    peer: PeerIdentity | undefined,
    viaLink: boolean,
  ): Promise<Response> {
    const core = this.#core;
    const { pathname, search } = splitUrl(req.url);
    if (!pathname.startsWith("/v1/")) throw new NotFound();
    let path = decodePath(pathname.slice(4));
    const query = search === "" ? null : new URLSearchParams(search);

    // Operation from the method (Vault's logical.go mapping).
    let op: Operation | "write";
    switch (req.method) {
      case "GET":
      case "HEAD":
        op = query !== null && truthy(query.get("list")) ? "list" : "read";
        break;
      case "LIST":
        op = "list";
        break;
      case "POST":
      case "PUT":
        op = "write";
        break;
      case "DELETE":
        op = "delete";
        break;
      case "PATCH":
        if (mediaType(req.headers.get("content-type")) !== "application/merge-patch+json") {
          throw new UnsupportedMediaType(
            "PATCH requires the Content-Type application/merge-patch+json",
          );
        }
        op = "patch";
        break;
      default:
        throw new MethodNotAllowed();
    }
    if (op === "list" && !path.endsWith("/")) path += "/";
    // SecretHub's short routes: /v1/secrets/<path> is KV v2 on the default mount, so the ACL,
    // audit and engine see exactly the Vault path (secret/data/…, secret/metadata/… to list).
    const short = path.startsWith("secrets/");
    if (short) path = shortRoute(path, op);

    const mount = core.mounts.resolve(path);
    if (!mount) {
      if (core.sealed) throw new Sealed();
      throw new NotFound(`no handler for route "${path}". route entry not found.`);
    }
    const hit = matchPath(mount.table, mount.rest);
    const spec: CorePathSpec | undefined = hit?.compiled.spec;
    if (core.sealed && !spec?.whileSealed) throw new Sealed();
    if (!spec || !hit) throw new NotFound(`unsupported path`);
    if (core.mounts.isClosing(mount.entry.uuid)) {
      throw new ServiceUnavailable("mount is being removed");
    }
    setRoute(routeLabel(mount.entry.type, spec));

    let data: Record<string, unknown> = op === "read" || op === "list" || op === "delete"
      ? {
        ...(query !== null ? fromQuery(query) : undefined),
        ...(req.body ? await this.#readBody(req, started) : undefined),
      }
      : await this.#readBody(req, started);
    // On the short route a flat body is the secret itself: {"password": "x"} → {"data": {...}}.
    // Only a body with Vault's envelope keys alone ({"data": {...}, "options": {...}}) is taken
    // as the envelope: {"data": {...}, "name": "n"} is a secret with two fields.
    // PATCH takes the same flat body. An empty one is no secret at all: the 400 the Vault path
    // gives, not a new empty version over the current one.
    if (short && (op === "write" || op === "patch") && !isKvEnvelope(data)) {
      if (Object.keys(data).length === 0) throw new BadRequest("no data provided");
      data = { data };
    }

    const base = {
      path: mount.rest,
      params: hit.params,
      data,
      remoteAddress,
      tokenAccessor: "",
      requestId,
    };

    // create vs update: the engine's existence check decides, as Vault's ACL expects.
    let operation: Operation;
    if (op === "write") {
      const ops = spec.operations;
      if (ops.create && ops.update && spec.exists) {
        operation = await spec.exists({ ...base, operation: "update" }) ? "update" : "create";
      } else operation = ops.update ? "update" : "create";
    } else operation = op;
    const handler = spec.operations[operation];
    if (!handler) throw new MethodNotAllowed();

    const clientToken = tokenFromHeaders(req.headers);
    const wrapHeader = req.headers.get("x-vault-wrap-ttl");
    let wrapTtl = 0;
    if (wrapHeader !== null) {
      try {
        wrapTtl = parseDuration(wrapHeader);
      } catch {
        throw new BadRequest("invalid X-Vault-Wrap-TTL header");
      }
      // Refused before the handler runs: checked only when wrapping, after it, the request's
      // effect (a token, a secret-id, a write) was committed and its answer then withheld.
      if (wrapTtl > MAX_WRAP_TTL) {
        throw new BadRequest(`wrap TTL must be between 1s and ${MAX_WRAP_TTL}s`);
      }
    }
    const creq: CoreRequest = {
      ...base,
      operation,
      token: null,
      clientToken,
      headers: req.headers,
      fullPath: path,
    };
    if (peer) creq.peer = peer;

    const auditable = !core.sealed;
    let alert = false;
    const unauth = flag(spec.unauthenticated, operation);
    // HEAD is for probes (sys/health, CA certificates). On any other path a read can have side
    // effects (database/creds/* creates a login) the caller would never see: Vault refuses it.
    if (req.method === "HEAD" && !unauth) throw new MethodNotAllowed();
    if (!unauth) {
      // The token is hashed once: the cache and storage both key on its id.
      let entry: TokenEntry | null | undefined = null;
      if (clientToken) {
        const id = tokenId(clientToken);
        entry = core.tokens.cachedById(id);
        if (entry === undefined) entry = await core.tokens.lookupById(id);
      }
      if (!entry) {
        await this.#auditDenied(creq, "permission denied");
        throw new PermissionDenied(
          entry === null && clientToken
            ? ["permission denied", "invalid token"]
            : "permission denied",
        );
      }
      creq.token = entry;
      creq.tokenAccessor = entry.accessor;
      // A link token acts only through its agent's link: read out of it (or off the agent),
      // it is no bearer token for the HTTP API.
      if (entry.path === LINK_TOKEN_PATH && !viaLink) {
        await this.#auditDenied(creq, "permission denied: agent link token used off its link");
        throw new PermissionDenied();
      }
      const cached = core.policies.cachedDecider(entry.policies);
      alert = cached?.alert ?? await core.policies.alerting(entry.policies);
      if (
        entry.bound_cidrs?.length && !inAnyCidr(entry.bound_cidrs.map(parseCidr), remoteAddress)
      ) {
        await this.#auditDenied(creq, "permission denied: source address not allowed for token");
        throw new PermissionDenied();
      }
      if (entry.num_uses !== 0) {
        // Vault's order: a limited-use token spends a use when its request is admitted, before
        // the ACL check and the handler, and even if the request then fails. The handler sees
        // the count left after this request (lookup-self reports it), and concurrent requests
        // spend distinct uses: of N concurrent requests on an n-use token, n get through.
        const left = await core.tokens.use(entry);
        if (!left) {
          await this.#auditDenied(creq, "permission denied");
          throw new PermissionDenied(["permission denied", "invalid token"]);
        }
        creq.token = entry = spent.token = left;
      }
      const acl = cached?.acl ?? await core.policies.acl(entry.policies);
      if (operation === "list") {
        // Only lists get it: a closure per request is not free, and only a filtered list asks.
        const prefix = mount.entry.path;
        creq.allowed = (op, p) => acl.check(prefix + p, op, false, evalContext(core, creq)).allowed;
      }
      const decision = acl.check(
        path,
        operation,
        flag(spec.sudo, operation),
        evalContext(core, creq),
      );
      if (!decision.allowed) {
        // The reason (e.g. which condition failed) goes to the audit log, not to the client.
        await this.#auditDenied(
          creq,
          decision.reason ? `permission denied: ${decision.reason}` : "permission denied",
        );
        throw new PermissionDenied();
      }
      // min_wrapping_ttl / max_wrapping_ttl of the matched rule (Vault checks them right after
      // the capabilities, for every operation). Only a rule that sets one costs anything here.
      const wrapBad = decision.rule && hasWrappingBounds(decision.rule)
        ? wrappingViolation(decision.rule, wrapTtl)
        : null;
      if (wrapBad) {
        await this.#auditDenied(creq, `permission denied: ${wrapBad}`);
        throw new PermissionDenied(["permission denied", wrapBad]);
      }
      // Vault checks parameter rules on reads too (their query is their data: a rule denying
      // `version` keeps old KV versions out of reach), but not on lists or deletes.
      const rule = decision.rule;
      const bad = rule && operation !== "list" && operation !== "delete" &&
          (rule.allowedParameters || rule.deniedParameters || rule.requiredParameters)
        ? parameterViolation(rule, data)
        : null;
      if (bad) {
        await this.#auditDenied(creq, `permission denied: ${bad}`);
        throw new PermissionDenied(["permission denied", bad]);
      }
    }

    const schema = spec.input?.[operation] ??
      (operation === "create" || operation === "update" ? spec.input?.write : undefined);
    if (schema) {
      try {
        creq.data = parseWith(schema, data, (m) => new BadRequest(m)) as Record<string, unknown>;
      } catch (e) {
        if (auditable) await this.#audit(creq, "response", "error", 400, (e as Error).message);
        throw e;
      }
    }

    // A mutating request's entry is queued before its handler runs, so it commits in the same
    // transaction as the handler's writes or an earlier one (the writer keeps order, and a failed
    // commit fails everything queued behind it); the reply waits for it. A read is one
    // "exchange" entry (request and response together): half the chain work.
    const isRead = operation === "read" || operation === "list";
    const requestRecorded = auditable && !isRead
      ? core.audit.record([this.#input(creq, "request", "allowed")])
      : null;
    // Observed below; this keeps a failure from surfacing as an unhandled rejection meanwhile.
    requestRecorded?.catch(() => {});

    let resp: CoreResponse | void = undefined;
    let failure: unknown = null;
    let lease: LeaseEnvelope | undefined;
    /** The lease this request stored: revoked if the request fails after all. */
    let registered: string | null = null;
    // A user mount's handler is counted while it runs, so an unmount waits for the credentials
    // it may return. Past its deadline it keeps running and nobody reads its answer: the
    // credentials in a late answer are revoked (see the finally below).
    const engine = core.mounts.engineFor(mount.entry.uuid);
    let release: (() => void) | null = null;
    let running: Promise<CoreResponse | void> | null = null;
    let abandoned = false;
    try {
      try {
        if (engine) release = core.mounts.hold(mount.entry.uuid);
        running = handler(creq);
        // The same deadline as the body's: request_timeout from the request's start.
        resp = await this.#deadlines.run(running, () => abandoned = true, started);
        // A dynamic secret gets its lease before the response is audited or sent: if the lease
        // cannot be stored, the client must not receive credentials nobody would ever revoke.
        if (resp?.secret) {
          const e = await this.#register(mount, engine, resp.secret, creq.tokenAccessor);
          registered = e.id;
          lease = {
            lease_id: e.id,
            lease_duration: Math.round((e.expireTime - e.issueTime) / 1000),
            renewable: e.renewable,
          };
        } else if (resp && !engine) {
          // Only built-ins (sys/leases/renew, unwrap) set the envelope's lease fields directly.
          lease = resp.lease;
        }
      } catch (e) {
        failure = e;
      }
      // Wrapped before the reply is audited, so the entry holds the wrap_info the client gets
      // (Vault audits the wrapped reply): sys/audit-hash of a wrapping token finds it.
      let wrapInfo: WrapInfo | undefined;
      if (
        !failure && wrapTtl > 0 && resp && !resp.raw && (resp.data != null || resp.auth != null)
      ) {
        try {
          wrapInfo = await core.wrapping.wrap(
            {
              data: resp.data ?? null,
              auth: resp.auth ?? null,
              warnings: resp.warnings ?? null,
              ...(lease ? { lease } : {}),
            },
            wrapTtl,
            path,
            (resp.auth?.accessor as string | undefined) ?? "",
          );
        } catch (e) {
          failure = e;
        }
      }
      if (auditable && !core.sealed) {
        const status = failure
          ? (failure instanceof HttpError ? failure.status : 500)
          : (resp?.status ?? 200);
        const out = this.#input(
          creq,
          isRead ? "exchange" : "response",
          failure ? "error" : "ok",
          status,
          failure instanceof HttpError
            ? failure.errors.join("; ")
            : failure
            ? "internal error"
            : undefined,
        );
        if (resp && !resp.raw && (resp.data != null || resp.auth != null || lease)) {
          out.response = {
            data: resp.data ?? null,
            auth: resp.auth ?? null,
            ...(lease ? { lease } : {}),
            ...(wrapInfo ? { wrapInfo } : {}),
          };
        }
        if (alert) {
          out.alert = true;
          core.alerts.emit({
            event: "break_glass_access",
            time: out.time,
            request_id: requestId,
            path,
            operation,
            remote_address: remoteAddress,
            token_accessor_hmac: core.audit.hash(creq.tokenAccessor),
            policies: creq.token?.policies ?? [],
          });
        }
        const recorded = core.audit.record([out]);
        if (requestRecorded) await Promise.all([requestRecorded, recorded]);
        else await recorded;
      } else if (requestRecorded) await requestRecorded;
      if (failure) throw failure;
      const r = resp ?? {};
      if (!isRead) {
        const version = r.data?.version;
        core.events.emitWrite({
          path,
          operation,
          mountType: mount.entry.type,
          version: typeof version === "number" ? version : undefined,
        });
      }
      if (wrapInfo) return jsonResponse(wrappedEnvelope(requestId, wrapInfo));
      const res = this.#envelope(r, requestId, spec, mount.entry.type, lease);
      return req.method === "HEAD" ? await headReply(res) : res;
    } catch (e) {
      // The client gets an error, not the credentials: their lease must not outlive the request.
      if (registered) await this.#revokeRegistered(registered, mount.entry.path);
      throw e;
    } finally {
      const done = release ?? (() => {});
      if (abandoned && running) {
        void running.then(
          (r) =>
            r?.secret
              ? this.#revokeUnleased(mount, engine, r.secret, "request timed out")
              : undefined,
          () => {},
        ).finally(done);
      } else done();
    }
  }

  /**
   * The request's body as data. The request's deadline (request_timeout, from its start) covers
   * the read: a client that trickles its body in is answered 408 when the time is up, and the
   * rest of the body is not read.
   */
  #readBody(req: Request, started: number): Promise<Record<string, unknown>> {
    if (!req.body) return readBody(req, this.#core.maxRequestSize);
    const deadline: BodyDeadline = (p, abandon) =>
      this.#deadlines.run(p, abandon, started, bodyTimedOut);
    return readBody(req, this.#core.maxRequestSize, deadline);
  }

  /**
   * Stores the lease of a secret the handler returned. When that cannot even start (the mount is
   * being removed, or core sealed meanwhile) the secret is revoked through its engine: the
   * client gets an error, and nothing else would ever revoke it.
   */
  async #register(
    mount: ResolvedMount,
    engine: Engine | null,
    secret: LeaseSecret,
    tokenAccessor: string,
  ): Promise<LeaseEntry> {
    const core = this.#core;
    if (core.mounts.isClosing(mount.entry.uuid)) {
      await this.#revokeUnleased(mount, engine, secret, "mount is being removed");
      throw new ServiceUnavailable("mount is being removed");
    }
    let leases: LeaseManager;
    try {
      leases = core.leases;
    } catch (e) {
      await this.#revokeUnleased(mount, engine, secret, "core sealed before the lease was stored");
      throw e;
    }
    return await leases.register({ mount: mount.entry, path: mount.rest, secret, tokenAccessor });
  }

  /** The engine as mounted now, else the one that answered (core sealed: best effort). */
  #revokeUnleased(
    mount: ResolvedMount,
    engine: Engine | null,
    secret: LeaseSecret,
    reason: string,
  ): Promise<boolean> {
    return revokeUnleased({
      engine: this.#core.mounts.engineFor(mount.entry.uuid) ?? engine,
      mount: mount.entry,
      path: mount.rest,
      secret,
      now: this.#core.now(),
      reason,
    });
  }

  /** Best effort; a lease whose engine revoke fails is kept expired and retried by the manager. */
  async #revokeRegistered(id: string, mountPath: string): Promise<void> {
    try {
      await this.#core.leases.revoke(id);
      log.warn("revoked the lease of a request that failed after it was stored", {
        mount: mountPath,
      });
    } catch (e) {
      log.error("could not revoke the lease of a request that failed after it was stored", {
        mount: mountPath,
        lease_id: id,
        error_type: errorType(e),
      });
    }
  }

  #audit(
    r: CoreRequest,
    type: AuditInput["type"],
    result: AuditInput["result"],
    status?: number,
    error?: string,
  ): Promise<void> {
    return this.#core.audit.record([this.#input(r, type, result, status, error)]);
  }

  #input(
    r: CoreRequest,
    type: AuditInput["type"],
    result: AuditInput["result"],
    status?: number,
    error?: string,
  ): AuditInput {
    const input: AuditInput = {
      type,
      time: this.#isoTime(this.#core.now()),
      requestId: r.requestId,
      operation: r.operation,
      path: r.fullPath,
      remoteAddress: r.remoteAddress,
      tokenAccessor: r.tokenAccessor,
      policies: r.token?.policies ?? [],
      result,
    };
    if (status !== undefined) input.status = status;
    if (error !== undefined) input.error = error;
    if (type !== "response" && Object.keys(r.data).length) input.data = r.data;
    return input;
  }

  #isoMs = NaN;
  #iso = "";

  /** RFC 3339 of `ms`; requests in the same millisecond share one string. */
  #isoTime(ms: number): string {
    if (ms !== this.#isoMs) {
      this.#iso = new Date(ms).toISOString();
      this.#isoMs = ms;
    }
    return this.#iso;
  }

  async #auditDenied(r: CoreRequest, error: string): Promise<void> {
    if (this.#core.sealed) return;
    await this.#audit(r, "response", "denied", 403, error);
  }

  #envelope(
    resp: CoreResponse,
    requestId: string,
    spec: CorePathSpec,
    mountType: string,
    lease: LeaseEnvelope | undefined,
  ): Response {
    if (resp.raw) {
      const status = resp.raw.status ?? resp.status ?? 200;
      // 204, 205 and 304 cannot carry a body (the Response constructor refuses one).
      const noBody = status === 204 || status === 205 || status === 304;
      return new Response(noBody ? null : resp.raw.body, {
        status,
        headers: { "content-type": resp.raw.contentType, "cache-control": "no-store" },
      });
    }
    const hasBody = resp.data != null || resp.auth != null || (resp.warnings?.length ?? 0) > 0 ||
      lease !== undefined;
    if (!hasBody && !resp.status) return new Response(null, { status: 204, headers: NO_STORE });
    // The envelope is written as text so that frozen (shared) data is serialized only once.
    // requestId is a UUID from crypto.randomUUID: nothing in it needs escaping.
    let text = `{"request_id":"${requestId}",${
      lease === undefined
        ? NO_LEASE
        : `"lease_id":${JSON.stringify(lease.lease_id)},"renewable":${
          JSON.stringify(lease.renewable)
        },"lease_duration":${JSON.stringify(lease.lease_duration)}`
    },"data":${dataJson(resp.data)},"wrap_info":null,"warnings":${
      resp.warnings?.length ? JSON.stringify(resp.warnings) : "null"
    },"auth":${resp.auth == null ? "null" : JSON.stringify(resp.auth)},"mount_type":${
      jsonString(mountType)
    }`;
    // Some routes also repeat their data at the top level, as Vault's do.
    if (spec.injectTopLevel && resp.data) {
      for (const [k, v] of Object.entries(resp.data)) {
        if (ENVELOPE_KEYS.has(k) || v === undefined) continue;
        text += `,${JSON.stringify(k)}:${JSON.stringify(v)}`;
      }
    }
    return jsonTextResponse(text + "}", resp.status ?? 200);
  }
}

/**
 * A HEAD reply: the GET reply's status and headers with its Content-Length (RFC 9110 §9.3.2), and
 * no body. Hono answers HEAD with the GET route's reply minus its body, which the runtime would
 * then send as `content-length: 0`; an explicit length is kept on a HEAD reply.
 */
async function headReply(res: Response): Promise<Response> {
  if (res.body === null) return res;
  const length = (await res.arrayBuffer()).byteLength;
  const out = new Response(null, { status: res.status, headers: res.headers });
  out.headers.set("content-length", String(length));
  return out;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** A KV v2 write envelope: an object `data`, and no key but "data" and "options". */
export function isKvEnvelope(body: Record<string, unknown>): boolean {
  if (!isPlainObject(body.data)) return false;
  for (const k of Object.keys(body)) if (k !== "data" && k !== "options") return false;
  return true;
}

/** "secrets/<p>" → the KV v2 path on the default mount for the operation. */
export function shortRoute(path: string, op: Operation | "write"): string {
  const rest = path.slice("secrets/".length);
  return op === "list" ? `secret/metadata/${rest}` : `secret/data/${rest}`;
}

/**
 * True when `operation` on `path` (without "/v1/") is root-protected: its route declares `sudo`
 * for that operation, so the ACL also asks for the `sudo` capability. The lookup is the one
 * #handle does (mount, then path table), so sys/policies/simulate cannot disagree with a real
 * request about it. An unrouted path needs no sudo (the request would be a 404 anyway).
 */
export function routeNeedsSudo(core: Core, path: string, operation: Operation): boolean {
  let p = path.replace(/^\/+/, "");
  if (operation === "list" && !p.endsWith("/")) p += "/";
  const mount = core.mounts.resolve(p);
  const spec = mount ? matchPath(mount.table, mount.rest)?.compiled.spec : undefined;
  return spec ? flag(spec.sudo, operation) : false;
}

/** What policy conditions are evaluated against: the client address and the token's TTL. */
export function evalContext(core: Core, r: CoreRequest): EvalContext {
  return {
    remoteAddress: r.remoteAddress || undefined,
    now: core.now(),
    tokenTtl: r.token ? core.tokens.ttlOf(r.token) : undefined,
  };
}
