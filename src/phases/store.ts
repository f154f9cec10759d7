/**
 * store (I/O): act on the backend verdict. In the foreground, store what may be stored (in the
 * background, while the client streams its own copy), hand the fill to coalesced waiters, and
 * return what to deliver; in a background refresh, only store.
 */
import type { Delivery } from "../deliver.ts";
import { clientHeaders, synthetic } from "../deliver.ts";
import type { CacheStatus } from "../http/cache-status.ts";
import type { CacheKey } from "../key.ts";
import type { Invocation, Runtime } from "../runtime.ts";
import type { Prepared } from "../store/writer.ts";
import { unreachable } from "../runtime.ts";
import { currentAge, ttlLeft } from "../store/entries.ts";
import type { BackendVerdict, OriginFailure } from "./fetch.ts";
import type { FoundEntry } from "./lookup.ts";
import type { Lead } from "./miss.ts";
import type { RequestFacts } from "./recv.ts";

export interface StoreContext {
  facts: RequestFacts;
  stale: FoundEntry | null;
  rt: Runtime;
  inv: Invocation;
  lead: Lead;
  /** Where the request stands so far (MISS / BYPASS, why it went forward). */
  status: CacheStatus;
  /** False when the store could not be opened: nothing is written. */
  storeUsable: boolean;
}

/** Store what the verdict allows and say what the client gets. */
export function storeAndAnswer(v: BackendVerdict, c: StoreContext): Delivery {
  const { facts, rt, status } = c;
  switch (v.kind) {
    case "stale-if-error":
      return staleIfError(v.found ?? c.stale!, v.fwdStatus, c, v.detail);
    case "failed":
    case "discarded":
      return originFailure(v.kind === "failed" ? v.failure : "network", status);
    case "revalidated": {
      const stale = c.stale!;
      const entry = v.result.entry;
      const answered = { ...status, fwdStatus: 304, detail: "revalidated" };
      if (!v.result.stored) {
        // No longer storable after the 304's headers: this client still gets the validated response.
        c.inv.waitUntil(rt.writer.drop(stale.storeKey));
        return { ...storedDelivery({ ...stale, entry }, answered, c), source: "unshared" };
      }
      if (entry.body instanceof ReadableStream) {
        // A large body: one branch to the client, one back to the store; nothing to share with waiters.
        const [toClient, toStore] = entry.body.tee();
        c.inv.waitUntil(rt.writer.putUnlessInvalidated(facts.key.url, stale.storeKey, v.fillStartedAt, { ...entry, body: toStore }));
        return storedDelivery({ ...stale, entry: { ...entry, body: toClient } }, { ...answered, stored: true, ttl: entry.meta.ttl }, c);
      }
      c.inv.waitUntil(rt.writer.putUnlessInvalidated(facts.key.url, stale.storeKey, v.fillStartedAt, entry));
      c.lead.handOff()({ entry, storeKey: stale.storeKey });
      return storedDelivery({ ...stale, entry }, { ...answered, stored: true, ttl: entry.meta.ttl }, c);
    }
    case "unstorable":
      return {
        source: "unshared", status: v.res.status, statusText: v.res.statusText, headers: new Headers(v.res.headers), body: v.res.body,
        cacheStatus: { ...status, fwdStatus: v.res.status, detail: v.reason }, cacheControl: v.cacheControl, key: facts.key,
      };
    case "storable": {
      const { res, prepared: p } = v;
      const cacheStatus = { ...status, fwdStatus: res.status };
      if (!c.storeUsable) {
        return { source: "unshared", status: res.status, statusText: res.statusText, headers: new Headers(res.headers), body: res.body, cacheStatus: { ...cacheStatus, detail: "cache-unavailable" }, key: facts.key };
      }
      // The cache's copy is read whole in the background while the client streams its own.
      const [toClient, toCache] = facts.headOnly || !res.body ? [null, res.body] : res.body.tee();
      const filling = fillAndShare(c, facts.key, p, res, toCache);
      if (c.inv.trace) c.inv.trace.filled = filling.catch(() => -1);
      return {
        source: "fill", status: res.status, statusText: res.statusText, headers: new Headers(res.headers), body: toClient,
        cacheStatus: { ...cacheStatus, stored: true, ttl: p.decision.ttl, detail: status.detail ?? p.meta.rule },
        cacheControl: p.decision.cacheControl, age: p.decision.initialAge, key: facts.key, tags: p.meta.tags,
      };
    }
    default:
      return unreachable(v);
  }
}

/**
 * Store a fill in the background (its body read whole, or streamed to the store when large) and
 * hand coalesced waiters what was stored (nothing when it was not). Resolves to the stored size,
 * -1 when not known or not stored.
 */
export function fillAndShare(c: { rt: Runtime; inv: Invocation; lead: Lead }, key: CacheKey, p: Prepared, res: Response, body: ReadableStream<Uint8Array> | null): Promise<number> {
  const settle = c.lead.handOff();
  const filling = c.rt.writer.fill(key, p, res, body).then((shared) => {
    settle(shared);
    return shared?.entry.size ?? -1;
  }, (e: unknown) => {
    settle(null);
    throw e;
  });
  c.inv.waitUntil(filling);
  return filling;
}

/** A background refresh: store what may be stored, drop a copy that may no longer be. */
export async function storeInBackground(v: BackendVerdict, c: Omit<StoreContext, "lead" | "status" | "inv">): Promise<void> {
  const { facts, rt } = c;
  const stale = c.stale!;
  switch (v.kind) {
    case "revalidated":
      if (v.result.stored) await rt.writer.putUnlessInvalidated(facts.key.url, stale.storeKey, v.fillStartedAt, v.result.entry);
      else await rt.writer.drop(stale.storeKey);
      return;
    case "storable":
      await rt.writer.fill(facts.key, v.prepared, v.res, v.res.body);
      return;
    case "unstorable":
      await v.res.body?.cancel();
      // No longer storable: drop the stale copy so it is not served again.
      await rt.writer.drop(stale.storeKey);
      return;
    case "stale-if-error":
    case "failed":
    case "discarded":
      return;
    default:
      unreachable(v);
  }
}

/** A stored entry (fresh, stale, coalesced or revalidated) as the client sees it: metadata applied, Age counted. */
export function storedDelivery(found: FoundEntry, cacheStatus: CacheStatus, c: { facts: RequestFacts; rt: Runtime }): Delivery {
  const { entry } = found;
  const fixed = { cacheControl: entry.meta.cacheControl, key: c.facts.key, tags: entry.meta.tags };
  return {
    source: "stored", status: entry.status, prepared: clientHeaders(entry, fixed, c.rt.config), body: entry.body, cacheStatus,
    age: currentAge(entry.meta, c.rt.now()), ...fixed,
  };
}

/**
 * RFC 5861 §4: the origin failed; the stale entry answers (its window was checked by the backend
 * phase). `detail`: the shield's reason when it answered stale (its origin slow or down).
 */
function staleIfError(stale: FoundEntry, fwdStatus: number | undefined, c: StoreContext, detail = "stale-if-error"): Delivery {
  const ttl = ttlLeft(stale.entry.meta, c.rt.now());
  const d = storedDelivery(stale, { xCache: "HIT", hit: true, fwd: "stale", fwdStatus, ttl, detail, upstream: c.status.upstream }, c);
  // RFC 9111 §5.5 (obsoleted, still read by tools): 111 after a failed revalidation, 110 otherwise.
  return { ...d, warning: detail === "stale-if-error" ? '111 - "Revalidation Failed"' : '110 - "Response is Stale"' };
}

/** The origin could not be reached or did not answer in time, and nothing stale may answer. */
export function originFailure(kind: OriginFailure, status: CacheStatus): Delivery {
  const [code, text, detail] = FAILURES[kind];
  return synthetic(code, text, { ...status, detail: status.detail ?? detail });
}

const FAILURES: Record<OriginFailure, [number, string, string]> = {
  timeout: [504, "Gateway Timeout: the origin did not answer in time", "origin-timeout"],
  network: [502, "Bad Gateway: the origin could not be reached", "origin-unreachable"],
  "unprompted-304": [502, "Bad Gateway: the origin answered 304 Not Modified to a request without validators", "origin-304-unprompted"],
};
