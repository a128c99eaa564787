/**
 * One template job: render → write atomically only when the bytes changed → reload exactly once
 * per change. A render error (missing secret, bad filter input) keeps the previous file in place:
 * an application is better served by slightly old credentials than by an empty config.
 */
import type { SecretLookup, Template } from "../template/mod.ts";
import { dirname } from "../../lib/paths.ts";
import { writeFileAtomic } from "./atomic_file.ts";
import { type ReloadResult, type ReloadSpec, runReload } from "./reload.ts";

export interface TemplateJobOptions {
  template: Template;
  destination: string;
  /** Default 0o600. */
  mode?: number;
  uid?: number;
  gid?: number;
  reload?: ReloadSpec;
}

export interface RenderOutcome {
  /** The destination file was replaced. */
  changed: boolean;
  /** Present when a reload ran (only ever after a change). */
  reload?: ReloadResult;
  /**
   * What went wrong: a TemplateRenderError or I/O error (file untouched), or a reload that
   * failed or exited non-zero (file already replaced).
   */
  error?: Error;
}

/** Mode of destination directories the agent creates (before the umask). */
export const DEST_DIR_MODE = 0o755;

export class TemplateJob {
  readonly destination: string;
  readonly #opts: TemplateJobOptions;
  /** Renders of one job run one after another, so two updates can't race on reload. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: TemplateJobOptions) {
    this.#opts = opts;
    this.destination = opts.destination;
  }

  get template(): Template {
    return this.#opts.template;
  }

  render(lookup: SecretLookup): Promise<RenderOutcome> {
    const run = this.#queue.then(() => this.#render(lookup));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #render(lookup: SecretLookup): Promise<RenderOutcome> {
    const o = this.#opts;
    let written: { changed: boolean };
    try {
      const text = o.template.render(lookup);
      const opts = { mode: o.mode ?? 0o600, uid: o.uid, gid: o.gid };
      // Missing parent directories are created, as Vault Agent does by default
      // (create_dest_dirs; 0755 like consul-template's MkdirAll): the file's own mode, not the
      // directory's, is what guards the secret, and the app may run as another user.
      await Deno.mkdir(dirname(o.destination), { recursive: true, mode: DEST_DIR_MODE });
      written = await writeFileAtomic(o.destination, text, opts);
    } catch (e) {
      return { changed: false, error: asError(e) };
    }
    if (!written.changed || !o.reload) return { changed: written.changed };
    try {
      const reload = await runReload(o.reload);
      if (reload.kind === "command" && (reload.code !== 0 || reload.timedOut)) {
        const why = reload.timedOut ? "timed out" : `exited with code ${reload.code}`;
        return { changed: true, reload, error: new Error(`Reload command ${why}`) };
      }
      return { changed: true, reload };
    } catch (e) {
      return { changed: true, error: asError(e) };
    }
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
