/** Builds a TemplateJob from a validated `templates[]` config entry (reads `source`). */
import type { TemplateConfig } from "../config.ts";
import { parseTemplate } from "../template/mod.ts";
import { TemplateJob } from "./renderer.ts";

export async function templateJobFromConfig(t: TemplateConfig): Promise<TemplateJob> {
  const src = t.contents ?? await Deno.readTextFile(t.source!);
  return new TemplateJob({
    template: parseTemplate(src),
    destination: t.destination,
    mode: t.mode,
    ...(t.uid !== undefined ? { uid: t.uid } : {}),
    ...(t.gid !== undefined ? { gid: t.gid } : {}),
    ...(t.reload ? { reload: t.reload } : {}),
  });
}
