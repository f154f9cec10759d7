/**
 * lookup (I/O, read-only): the stored entry for a request, through the tiers, behind its Vary
 * marker when it varies (RFC 9111 §4.1), its state, and the purge check. No side effects: the
 * driver acts on the verdict (and explain reports it).
 */
import { variantKey } from "../key.ts";
import { logFault } from "../log.ts";
import type { Runtime } from "../runtime.ts";
import { StoreUnavailable } from "../store/cache-api.ts";
import { discard, type StoredEntry } from "../store/entries.ts";
import type { TierName } from "../store/tier.ts";
import { varyHash } from "../vary.ts";
import { entryState } from "./entry-state.ts";
import { purgedBy } from "./purge-check.ts";
import type { RequestFacts } from "./recv.ts";

/** A stored entry found for a request. */
export interface FoundEntry {
  entry: StoredEntry;
  /** The key it is stored under (the base key, or a variant key). */
  storeKey: string;
  /** Request headers it varies on (empty when stored under the base key). */
  varyNames: string[];
  /** The tier that answered, or "coalesced" for a fill shared by a concurrent request. */
  tier: TierName | "coalesced";
}

export type LookupVerdict =
  | { kind: "hit"; found: FoundEntry; state: "fresh" | "stale-while-revalidate"; markerSince: number }
  | { kind: "stale"; found: FoundEntry; markerSince: number }
  | { kind: "purged"; found: FoundEntry; by: string; markerSince: number }
  | { kind: "miss"; fwd: "uri-miss" | "vary-miss"; markerSince: number; varyNames: string[] }
  | { kind: "unavailable" };

/** Look the request up in the store. */
export async function lookup(f: RequestFacts, rt: Runtime): Promise<LookupVerdict> {
  let located: Located;
  try {
    located = await locate(f, rt);
  } catch (e) {
    logFault("cache.match", e, { key: f.key.key });
    // The store cannot be opened: go to the origin and store nothing. Another fault: a miss.
    return e instanceof StoreUnavailable ? { kind: "unavailable" } : { kind: "miss", fwd: "uri-miss", markerSince: 0, varyNames: [] };
  }
  if (located.kind === "miss") return located;
  const { found, markerSince } = located;
  const by = await purgedBy(found.entry.meta, rt, f.key.key);
  if (by !== null) return { kind: "purged", found, by, markerSince };
  const state = entryState(found.entry.meta, rt.now());
  return state === "stale" ? { kind: "stale", found, markerSince } : { kind: "hit", found, state, markerSince };
}

type Located = { kind: "entry"; found: FoundEntry; markerSince: number } | Extract<LookupVerdict, { kind: "miss" }>;

async function locate(f: RequestFacts, rt: Runtime): Promise<Located> {
  const base = await rt.store.get(f.key.key);
  if (!base) return { kind: "miss", fwd: "uri-miss", markerSince: 0, varyNames: [] };
  if (base.value.kind === "entry") {
    return { kind: "entry", found: { entry: base.value, storeKey: f.key.key, varyNames: [], tier: base.tier }, markerSince: 0 };
  }
  const marker = base.value;
  const vk = variantKey(f.key, await varyHash(marker.names, f.originRequest().headers));
  const variant = await rt.store.get(vk);
  // A variant filled before the marker's "since" was invalidated by an unsafe request.
  if (!variant || variant.value.kind !== "entry" || variant.value.meta.fillStartedAt < marker.since) {
    await discard(variant?.value);
    return { kind: "miss", fwd: "vary-miss", markerSince: marker.since, varyNames: marker.names };
  }
  return { kind: "entry", found: { entry: variant.value, storeKey: vk, varyNames: marker.names, tier: variant.tier }, markerSince: marker.since };
}
