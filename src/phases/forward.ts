/**
 * forward (I/O): a request on its way to the origin, from the driver (a location) or from the
 * shield. Coalesce or lead, fetch, judge. When a usable stale copy is at hand (within its
 * stale-if-error window, not must-revalidate and kin, not purged) the wait is bounded:
 *
 * - the origin is in its cool-down (known unhealthy): the stale copy answers at once, nothing is fetched;
 * - another request here is already fetching: wait `staleWaitMs` for it, then answer stale;
 * - this request fetches: if the answer is not judged within `staleWaitMs`, the stale copy answers
 *   and the fetch finishes in the background (within the platform's waitUntil budget) to refresh
 *   the entry, like nginx's proxy_cache_background_update or Varnish's grace.
 */
import type { Upstream } from "../http/cache-status.ts";
import { logFault } from "../log.ts";
import type { Invocation, Runtime } from "../runtime.ts";
import { TIMED_OUT, waitFor } from "../coalesce.ts";
import { BUFFER_LIMIT, bodyBytes, discard } from "../store/entries.ts";
import { staleUsableOnError } from "./entry-state.ts";
import { type BackendVerdict, backendResponse, fetchOrigin } from "./fetch.ts";
import type { FoundEntry } from "./lookup.ts";
import { type Lead, miss } from "./miss.ts";
import type { RequestFacts } from "./recv.ts";
import { storeInBackground } from "./store.ts";

export interface ForwardOptions {
  /** The stored copy, stale (or soft-purged), if there is one. */
  stale: FoundEntry | null;
  coalesce: boolean;
  storeUsable: boolean;
  /** Copies filled before this time are not used (a purge the caller knows of; a forced refresh). */
  notBefore: number;
}

/** Why a stale copy answered without waiting for the origin. */
export type StaleReason = "origin-slow" | "origin-down";

export type Forwarded =
  | { kind: "coalesced"; found: FoundEntry }
  | { kind: "stale"; stale: FoundEntry; why: StaleReason }
  /** The backend verdict; the caller stores and answers, then releases the lead. `stale` is the copy the verdict was judged with. */
  | { kind: "backend"; verdict: BackendVerdict; lead: Lead; stale: FoundEntry | null; upstream: Upstream | undefined };

export async function forward(f: RequestFacts, o: ForwardOptions, rt: Runtime, inv: Invocation): Promise<Forwarded> {
  const usable = o.stale !== null && staleUsableOnError(o.stale.entry.meta, rt.now());
  if (usable && !rt.shield && rt.origin.allDown()) return { kind: "stale", stale: o.stale!, why: "origin-down" };
  const patience = usable ? rt.config.staleWaitMs : undefined;
  const m = await miss(f, rt, o.coalesce, patience);
  if (m.kind === "coalesced") return m;
  if (m.kind === "busy") return { kind: "stale", stale: o.stale!, why: "origin-slow" };
  // A small stale body is read now: the backend phase releases the copy it judges, and this one may still answer.
  const stale = usable ? await withSmallBodyRead(o.stale!) : o.stale;
  let upstream: Upstream | undefined;
  const backend = (async () => {
    const outcome = await fetchOrigin(f, stale?.entry ?? null, rt, inv.trace, o.notBefore);
    upstream = outcome.upstream;
    return backendResponse(outcome, { facts: f, stale, rt, background: false });
  })();
  const verdict = (v: BackendVerdict): Forwarded => ({ kind: "backend", verdict: v, lead: m.lead, stale, upstream });
  let answer: FoundEntry | null = null;
  try {
    const first = patience === undefined ? await backend : await waitFor(backend, patience);
    if (first !== TIMED_OUT) return verdict(first);
    answer = await servable(stale!, rt);
    if (!answer) return verdict(await backend);
  } catch (e) {
    m.lead.release();
    throw e;
  }
  inv.waitUntil(backend
    .then((v) => storeInBackground(v, { facts: f, stale, rt, storeUsable: o.storeUsable }))
    .catch((e: unknown) => logFault("refresh", e, { key: f.key.key }))
    .finally(() => m.lead.release()));
  return { kind: "stale", stale: answer, why: "origin-slow" };
}

/** A stored copy with a small body as bytes (read once, used twice: answered and revalidated); a large one as it is. */
export async function withSmallBodyRead(found: FoundEntry): Promise<FoundEntry> {
  const e = found.entry;
  if (e.body === null || e.body instanceof Uint8Array) return found;
  if (e.size < 0 || e.size > BUFFER_LIMIT) return found;
  return { ...found, entry: { ...e, body: await bodyBytes(e) } };
}

/** A copy to answer with: the held bytes, or (a large body the backend phase released) read again from the store. */
async function servable(stale: FoundEntry, rt: Runtime): Promise<FoundEntry | null> {
  const e = stale.entry;
  if (!(e.body instanceof ReadableStream)) return stale;
  const again = await rt.store.get(stale.storeKey).catch(() => null);
  if (!again) return null;
  if (again.value.meta.storedAt !== e.meta.storedAt) {
    await discard(again.value);
    return null;
  }
  return { ...stale, entry: again.value };
}
