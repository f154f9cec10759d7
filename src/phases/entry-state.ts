/**
 * Entry state (pure): what a stored entry may be used for at `now`, from its own metadata.
 * RFC 9111 §4.2 (freshness), RFC 5861 §3 (stale-while-revalidate) and §4 (stale-if-error).
 */
import { type EntryMeta, ttlLeft } from "../store/entries.ts";

export type EntryState = "fresh" | "stale-while-revalidate" | "stale";

/** Fresh; or stale but within stale-while-revalidate (never for must-revalidate and kin); or stale. */
export function entryState(meta: EntryMeta, now: number): EntryState {
  const left = ttlLeft(meta, now);
  if (left > 0) return "fresh";
  // RFC 5861 §3: "stale-while-revalidate ... indicates that caches MAY serve the response in which
  // it appears after it becomes stale, up to the indicated number of seconds."
  if (!meta.strict && meta.swr > 0 && -left < meta.swr) return "stale-while-revalidate";
  return "stale";
}

/**
 * RFC 5861 §4: a stale entry may answer when the origin fails, within its stale-if-error window;
 * RFC 9111 §4.2.4: never when an explicit directive forbids serving stale (must-revalidate ...).
 */
export function staleUsableOnError(meta: EntryMeta, now: number): boolean {
  return !meta.strict && -ttlLeft(meta, now) <= meta.sie;
}
