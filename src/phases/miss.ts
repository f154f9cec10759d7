/**
 * miss (I/O, per isolate): before going to the origin, wait for an identical fill already in flight
 * in this isolate and use it, or lead one. Requests with one key send the same origin request, so a
 * waiter may use the leader's fill, unless a purge landed after the fill began; then it fetches itself.
 */
import { type SharedFill, TIMED_OUT, waitFor } from "../coalesce.ts";
import type { Runtime } from "../runtime.ts";
import type { FoundEntry } from "./lookup.ts";
import { purgeVerdict } from "./purge-check.ts";
import type { RequestFacts } from "./recv.ts";

/** A lead on a key: handed to the store phase with the fill, or released (waiters then fetch themselves). */
export interface Lead {
  /** Take the settle function (the fill will call it); after this, release() does nothing. */
  handOff(): (fill: SharedFill | null) => void;
  /** Release waiters with nothing, unless handed off. */
  release(): void;
}

/** `busy`: another request is fetching and has not finished within the caller's patience. */
export type MissVerdict = { kind: "coalesced"; found: FoundEntry } | { kind: "lead"; lead: Lead } | { kind: "busy" };

const NO_LEAD: Lead = { handOff: () => () => undefined, release: () => undefined };

/**
 * Wait for an identical fill, or lead (`coalesce: false` leads nobody: refreshes skip the
 * coalescer). With `patienceMs` (a stale copy to fall back on), a fill still pending after that
 * long is `busy`; without, the wait is the origin timeout and then the request fetches itself.
 */
export async function miss(f: RequestFacts, rt: Runtime, coalesce: boolean, patienceMs?: number): Promise<MissVerdict> {
  if (!coalesce) return { kind: "lead", lead: NO_LEAD };
  const pending = rt.coalescer.pending(f.key.key);
  if (pending) {
    const shared = await waitFor(pending, patienceMs ?? rt.config.originTimeoutMs);
    if (shared === TIMED_OUT && patienceMs !== undefined) return { kind: "busy" };
    if (shared && shared !== TIMED_OUT && (await usable(shared, f, rt))) {
      return { kind: "coalesced", found: { entry: shared.entry, storeKey: shared.storeKey, tier: "coalesced" } };
    }
  }
  const settle = rt.coalescer.lead(f.key.key);
  if (!settle) return { kind: "lead", lead: NO_LEAD };
  let handed = false;
  return {
    kind: "lead",
    lead: {
      handOff: () => {
        handed = true;
        return settle;
      },
      release: () => {
        if (!handed) settle(null);
      },
    },
  };
}

async function usable(shared: SharedFill, f: RequestFacts, rt: Runtime): Promise<boolean> {
  // Not if a purge (hard or soft) landed after the leader's fill began.
  const v = await purgeVerdict(shared.entry.meta, rt, f.key.key);
  return v.hard === null && v.soft === null;
}
