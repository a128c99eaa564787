/**
 * A file system error in a few words ("No such file or directory", "Permission denied"), for
 * one-line startup errors that name the path themselves. Shared by core's and the agent's startup
 * errors.
 */
export function fsProblem(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "No such file or directory";
  if (e instanceof Deno.errors.PermissionDenied) return "Permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "Is a directory";
  if (e instanceof Deno.errors.NotADirectory) return "Not a directory";
  if (e instanceof Deno.errors.AlreadyExists) return "File exists";
  if (e instanceof Deno.errors.AddrInUse) return "Address already in use";
  // Deno's messages end with "(os error N): op 'path'"; the caller already names the path.
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/\s*\(os error \d+\).*$/s, "");
}
