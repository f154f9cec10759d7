/**
 * lookup (I/O, read-only): the stored entry for a request, through the tiers, its state, and the
 * purge check. No side effects: the driver acts on the verdict (and explain reports it).
 *
 * There is no Vary matching here, by construction: the origin receives only what the key holds
 * (origin.ts fillRequest), so every header a response can vary on is part of the key already.
 */
import { logFault } from "../log.ts";
import type { Runtime } from "../runtime.ts";
import { StoreUnavailable } from "../store/cache-api.ts";
import type { StoredEntry } from "../store/entries.ts";
import type { TierName } from "../store/tier.ts";
import { entryState } from "./entry-state.ts";
import { purgeVerdict } from "./purge-check.ts";
import type { RequestFacts } from "./recv.ts";

/** A stored entry found for a request. */
export interface FoundEntry {
  entry: StoredEntry;
  /** The key it is stored under. */
  storeKey: string;
  /** The tier that answered, or "coalesced" for a fill shared by a concurrent request. */
  tier: TierName | "coalesced";
}

export type LookupVerdict =
  | { kind: "hit"; found: FoundEntry; state: "fresh" | "stale-while-revalidate" }
  | { kind: "stale"; found: FoundEntry; softPurgedBy: string | null }
  | { kind: "purged"; found: FoundEntry; by: string }
  | { kind: "miss" }
  | { kind: "unavailable" };

/** Look the request up in the store; `defer` takes background work (the purge journal's refresh). */
export async function lookup(f: RequestFacts, rt: Runtime, defer?: (p: Promise<unknown>) => void): Promise<LookupVerdict> {
  let got: Awaited<ReturnType<Runtime["store"]["get"]>>;
  try {
    got = await rt.store.get(f.key.key);
  } catch (e) {
    logFault("cache.match", e, { key: f.key.key });
    // The store cannot be opened: go to the origin and store nothing. Another fault: a miss.
    return e instanceof StoreUnavailable ? { kind: "unavailable" } : { kind: "miss" };
  }
  if (!got) return { kind: "miss" };
  const found: FoundEntry = { entry: got.value, storeKey: f.key.key, tier: got.tier };
  const local = rt.writer.invalidatedLocally(f.key.url, got.value.meta.fillStartedAt);
  if (local !== null) return { kind: "purged", found, by: local };
  let verdict = purgeVerdict(got.value.meta, rt, f.key.key, defer);
  if (verdict instanceof Promise) verdict = await verdict;
  if (verdict.hard !== null) return { kind: "purged", found, by: verdict.hard };
  // A soft purge makes the entry stale at once: revalidated before use, still servable on error.
  const state = verdict.soft !== null ? "stale" : entryState(got.value.meta, rt.now());
  return state === "stale" ? { kind: "stale", found, softPurgedBy: verdict.soft } : { kind: "hit", found, state };
}
