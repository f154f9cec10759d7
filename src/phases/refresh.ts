/**
 * Background refresh (RFC 5861 §3, stale-while-revalidate): the same fetch machine as a miss, run
 * after the response with the background flag. One refresh per key per isolate at a time; the mark
 * expires on its own, since work cut off at the end of the waitUntil budget never runs its cleanup.
 */
import { logFault } from "../log.ts";
import type { Invocation, Runtime } from "../runtime.ts";
import { backendResponse, fetchOrigin } from "./fetch.ts";
import type { FoundEntry } from "./lookup.ts";
import type { RequestFacts } from "./recv.ts";
import { storeInBackground } from "./store.ts";

/** A refresh mark outlives the platform's waitUntil budget (about 30 s after the response) by a margin. */
export const REFRESH_MARK_MS = 35_000;
/** Keys marked at most; beyond it expired marks are swept, and refreshes skipped if none expired. */
const MAX_MARKS = 1000;

/** Refresh `found` (whose body is bytes: it was also served) in the background, unless a refresh is under way. */
export function refreshInBackground(f: RequestFacts, found: FoundEntry, rt: Runtime, inv: Invocation): void {
  const t = rt.now();
  const until = rt.refreshing.get(found.storeKey);
  if (until !== undefined && until > t) return;
  if (rt.refreshing.size >= MAX_MARKS) {
    for (const [k, u] of rt.refreshing) if (u <= t) rt.refreshing.delete(k);
    if (rt.refreshing.size >= MAX_MARKS) return;
  }
  rt.refreshing.set(found.storeKey, t + REFRESH_MARK_MS);
  inv.waitUntil((async () => {
    try {
      const outcome = await fetchOrigin(f, found.entry, rt);
      const verdict = await backendResponse(outcome, { facts: f, stale: found, rt, background: true });
      await storeInBackground(verdict, { facts: f, stale: found, rt, storeUsable: true });
    } catch (e) {
      logFault("refresh", e, { key: found.storeKey });
    } finally {
      rt.refreshing.delete(found.storeKey);
    }
  })());
}
