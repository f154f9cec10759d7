/**
 * The driver: the only code that sequences the phases of a request's journey.
 *
 *   recv ──synth──────────────────────────────────────────────────────────────┐
 *    ├─pass──► pass (origin, as sent) ─────────────────────────────────────────┤
 *    ├─refresh─────────────────────────┐                                       │
 *    └─lookup─► hit (fresh | swr*) ────┼───────────────────────────────────────┤
 *               stale | purged | miss ─┴► forward: miss (coalesce) ─► fetch ─► ├─► deliver
 *                                         (shield or origin) backend response ─► │
 *                                         store, or the stale copy when slow ────┘
 *   * stale-while-revalidate: served, and refreshed by the same fetch machine in the background.
 *
 * Every verdict is a discriminated union and every switch is exhaustive (`unreachable`), so an
 * unhandled transition is a compile error. Every response leaves through `deliver`.
 */
import { deliver, type Delivery, type DeliveryStep, synthetic } from "./deliver.ts";
import type { CacheStatus } from "./http/cache-status.ts";
import { forward as forwardTo, withSmallBodyRead } from "./phases/forward.ts";
import { type FoundEntry, lookup } from "./phases/lookup.ts";
import { pass } from "./phases/pass.ts";
import { recv, type RequestFacts, type SkipCondition } from "./phases/recv.ts";
import { refreshInBackground } from "./phases/refresh.ts";
import { storeAndAnswer, storedDelivery } from "./phases/store.ts";
import { headersTooLarge as tooLargeHeaders, type TooLarge } from "./policy.ts";
import { type Invocation, type Runtime, unreachable } from "./runtime.ts";
import { discard, ttlLeft } from "./store/entries.ts";

export type Pipeline = (request: Request, inv: Invocation) => Promise<Response>;

/** Build the request handler for one isolate's runtime; `steps` is the delivery chain (default: client preconditions). */
export function createPipeline(rt: Runtime, steps?: readonly DeliveryStep[]): Pipeline {
  return async (request, inv) => deliver(request, await journey(request, rt, inv), rt.config, steps);
}

/** Where a request going to the origin stands. */
interface Forward {
  status: CacheStatus;
  stale: FoundEntry | null;
  storeUsable: boolean;
  coalesce: boolean;
  /** The shield must not answer with a copy filled before this (a forced refresh: now). */
  notBefore: number;
}

async function journey(request: Request, rt: Runtime, inv: Invocation): Promise<Delivery> {
  const received = recv(request, rt.config);
  if (received.kind === "synth") return tooLarge(received);
  const f = received.facts;
  if (inv.trace) {
    inv.trace.rule = f.rule?.name ?? "-";
    inv.trace.key = f.key.key;
  }
  const forward = { stale: null, storeUsable: true, coalesce: true, notBefore: 0 };
  switch (received.kind) {
    case "pass":
      return headersTooLarge(request, rt.config.maxHeaderBytes) ?? pass(f, received.condition, rt, inv);
    case "refresh":
      return toOrigin(f, { ...forward, status: skipStatus(received.condition), coalesce: false, notBefore: rt.now() }, rt, inv);
    case "lookup":
      break;
    default:
      return unreachable(received);
  }
  const looked = await lookup(f, rt, (p) => inv.waitUntil(p));
  const missed: CacheStatus = { xCache: "MISS", fwd: "miss" };
  switch (looked.kind) {
    case "hit": {
      const { found } = looked;
      const status: CacheStatus = { xCache: "HIT", hit: true, tier: found.tier, ttl: ttlLeft(found.entry.meta, rt.now()), detail: found.entry.meta.rule };
      if (looked.state === "fresh") return storedDelivery(found, status, { facts: f, rt });
      // Served and refreshed: a small body is read once for both; a large one streams to this client
      // and the refresh reads the entry again if the origin says 304.
      const held = await withSmallBodyRead(found);
      refreshInBackground(f, held, rt, inv);
      return storedDelivery(held, { ...status, detail: "stale-while-revalidate" }, { facts: f, rt });
    }
    case "stale":
      return toOrigin(f, { ...forward, status: { ...missed, fwd: "stale", detail: looked.softPurgedBy ? "soft-purged" : undefined }, stale: looked.found }, rt, inv);
    case "purged":
      // Purged (possibly in another location): drop it here too and fetch afresh.
      inv.waitUntil(rt.writer.drop(looked.found.storeKey));
      await discard(looked.found.entry);
      return toOrigin(f, { ...forward, status: { ...missed, detail: looked.by === "local-invalidation" ? "invalidated" : "purged" } }, rt, inv);
    case "miss":
      return toOrigin(f, { ...forward, status: { ...missed, fwd: "uri-miss" } }, rt, inv);
    case "unavailable":
      return toOrigin(f, { ...forward, status: missed, storeUsable: false }, rt, inv);
    default:
      return unreachable(looked);
  }
}

/** Coalesce or lead, fetch, judge, store, answer (or answer stale when the origin is slow or down). */
async function toOrigin(f: RequestFacts, w: Forward, rt: Runtime, inv: Invocation): Promise<Delivery> {
  const big = headersTooLarge(f.request, rt.config.maxHeaderBytes);
  if (big) return big;
  const fw = await forwardTo(f, { stale: w.stale, coalesce: w.coalesce, storeUsable: w.storeUsable, notBefore: w.notBefore }, rt, inv);
  switch (fw.kind) {
    case "coalesced":
      await discard(w.stale?.entry);
      return storedDelivery(fw.found, { ...w.status, detail: "coalesced" }, { facts: f, rt });
    case "stale": {
      const { entry } = fw.stale;
      const status: CacheStatus = { xCache: "HIT", hit: true, fwd: "stale", ttl: ttlLeft(entry.meta, rt.now()), detail: `stale-${fw.why}` };
      // RFC 9111 §5.5 (obsoleted, still read by tools): 110 "Response is Stale".
      return { ...storedDelivery(fw.stale, status, { facts: f, rt }), warning: '110 - "Response is Stale"' };
    }
    case "backend":
      try {
        const status = fw.upstream ? { ...w.status, upstream: fw.upstream } : w.status;
        return storeAndAnswer(fw.verdict, { facts: f, stale: fw.stale, rt, inv, lead: fw.lead, status, storeUsable: w.storeUsable });
      } finally {
        fw.lead.release();
      }
    default:
      return unreachable(fw);
  }
}

/** URL or headers too large: answered here, never forwarded (RFC 9110 §15.5.15, RFC 6585 §5). */
function tooLarge(t: TooLarge): Delivery {
  return synthetic(t.status, t.message, { xCache: "BYPASS", fwd: "request", detail: t.detail });
}

/** Headers too large for the origin; checked only when the origin would be asked (a hit forwards nothing). */
function headersTooLarge(request: Request, max: number): Delivery | null {
  const t = tooLargeHeaders(request, max);
  return t ? tooLarge(t) : null;
}

/** How a request that skips the stored copy is reported. */
function skipStatus(c: SkipCondition): CacheStatus {
  return c.report === "BYPASS" ? { xCache: "BYPASS", fwd: "bypass", detail: c.name } : { xCache: "MISS", fwd: "miss" };
}
