/**
 * The worker's own namespace (`/__edge/...`: health, purge, explain), however a path spells it
 * (pure). Used by the guard in front of every request and by ESI, which never fetches a fragment there.
 */
import { decodeRepeatedly } from "./key.ts";

/** Characters some routers drop or fold away: controls, spaces, soft hyphen, zero-width marks. */
const INVISIBLE = /[\x00-\x20\x7f\u00ad\u200b-\u200f\u2060\ufeff]/g;

/**
 * Is this path the worker's own `/__edge` namespace, however it is spelled? Percent-decoded
 * repeatedly (`%252F`), Unicode compatibility folded (`ſ` is `s`), lower-cased, with invisible
 * characters removed: any path that then contains `__edge` is answered by the worker and never
 * forwarded, since it may carry a bearer token (`/__edge./purge`, `/x/..%2F__edge/purge`, ...).
 */
export function inWorkerNamespace(path: string): boolean {
  // Plain ASCII without escapes (most paths): nothing to decode or fold.
  if (!/[%\u0080-\uffff]/.test(path)) return /__edge/i.test(path);
  return decodeRepeatedly(path).normalize("NFKC").toLowerCase().replace(INVISIBLE, "").includes("__edge");
}
