/**
 * JSON text of response data, kept per object when the object is frozen. Frozen data is shared
 * between requests (a KV read of an unchanged secret returns the same object; see readShared in
 * the SDK) and can never change, so serializing it once is enough. Keys are held weakly: the
 * text goes when the engine drops the object.
 */
const memo = new WeakMap<object, string>();

export function dataJson(data: Record<string, unknown> | null | undefined): string {
  if (data == null) return "null";
  if (!Object.isFrozen(data)) return JSON.stringify(data);
  let text = memo.get(data);
  if (text === undefined) memo.set(data, text = JSON.stringify(data));
  return text;
}
