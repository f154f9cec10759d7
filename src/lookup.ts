/**
 * Finding the entry for a request (I/O): the base key, and behind a Vary marker the variant
 * that matches this request's header values (RFC 9111 §4.1). Shared by the pipeline and explain.
 */
import type { CacheKey } from "./key.ts";
import { variantKey } from "./key.ts";
import { type EntryMeta, keyRequest, readMarker, readMeta } from "./store/entries.ts";
import { varyHash } from "./vary.ts";

export interface Found {
  stored: Response;
  meta: EntryMeta;
  /** The key it is stored under (the base key, or a variant key). */
  cacheKey: string;
  /** Request headers it varies on (empty when stored under the base key). */
  varyNames: string[];
}

export type LookupResult =
  | ({ kind: "entry"; markerSince: number } & Found)
  | { kind: "none"; fwd: "uri-miss" | "vary-miss"; markerSince: number; varyNames: string[] };

/** Look the request up; `originHeaders` gives the headers the origin would receive (Vary is matched on those). */
export async function lookup(cache: Cache, key: CacheKey, originHeaders: () => Headers): Promise<LookupResult> {
  const stored = await cache.match(keyRequest(key.key));
  if (!stored) return { kind: "none", fwd: "uri-miss", markerSince: 0, varyNames: [] };
  const marker = readMarker(stored);
  if (!marker) {
    const meta = readMeta(stored);
    if (!meta) {
      await stored.body?.cancel();
      return { kind: "none", fwd: "uri-miss", markerSince: 0, varyNames: [] };
    }
    return { kind: "entry", stored, meta, cacheKey: key.key, markerSince: 0, varyNames: [] };
  }
  await stored.body?.cancel();
  const vk = variantKey(key, await varyHash(marker.names, originHeaders()));
  const variant = await cache.match(keyRequest(vk));
  const meta = variant ? readMeta(variant) : null;
  // A variant filled before the marker's "since" was invalidated by an unsafe request.
  if (!variant || !meta || meta.fillStartedAt < marker.since) {
    await variant?.body?.cancel();
    return { kind: "none", fwd: "vary-miss", markerSince: marker.since, varyNames: marker.names };
  }
  return { kind: "entry", stored: variant, meta, cacheKey: vk, markerSince: marker.since, varyNames: marker.names };
}
