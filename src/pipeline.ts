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
import { deliver, type Delivery, preconditions, synthetic } from "./deliver.ts";
import { esiStep, esiTemplate, type Fragment } from "./esi/assemble.ts";
import { type CacheStatus, formatCacheStatus } from "./http/cache-status.ts";
import { forward as forwardTo, withSmallBodyRead } from "./phases/forward.ts";
import { type FoundEntry, lookup } from "./phases/lookup.ts";
import { pass } from "./phases/pass.ts";
import { recv, type RequestFacts, SKIP_CONDITIONS, type SkipCondition } from "./phases/recv.ts";
import { refreshInBackground } from "./phases/refresh.ts";
import { storeAndAnswer, storedDelivery } from "./phases/store.ts";
import { headersTooLarge as tooLargeHeaders, type TooLarge } from "./policy.ts";
import { type Invocation, type Runtime, unreachable } from "./runtime.ts";
import { discard, ttlLeft } from "./store/entries.ts";

/** A client's request, through the cache (its ESI fragments go through the same phases, one level deeper each). */
export type Pipeline = (request: Request, inv: Invocation) => Promise<Response>;

/**
 * Build the request handler for one isolate's runtime. The delivery chain is the client
 * preconditions, after ESI assembly when a rule has `esi` (fragments go through this same pipeline).
 */
export function createPipeline(rt: Runtime): Pipeline {
  const steps = (inv: Invocation, depth: number) => {
    // Fragments share the page's background work, not its log line.
    const fragments: Invocation = { waitUntil: (p) => inv.waitUntil(p) };
    const fragment = async (req: Request): Promise<Fragment> => {
      const d = await journey(req, rt, fragments, true);
      const status = () => formatCacheStatus(d.cacheStatus);
      // A stored fragment without includes of its own: its bytes as they are, no response to build and read back.
      if (d.source === "stored" && d.status === 200 && d.body instanceof Uint8Array && d.prepared?.esi === false) return { status: 200, body: d.body, cacheStatus: status };
      const res = await deliver(req, d, rt.config, steps(fragments, depth + 1));
      return { status: res.status, body: res.body, cacheStatus: status };
    };
    return [esiStep({ config: rt.config, depth, fragment }), preconditions];
  };
  return async (request, inv) => {
    const d = await journey(request, rt, inv, false);
    return rt.config.esi ? deliver(request, d, rt.config, steps(inv, 0)) : deliver(request, d, rt.config);
  };
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

async function journey(request: Request, rt: Runtime, inv: Invocation, fragment: boolean): Promise<Delivery> {
  const received = recv(request, rt.config, fragment);
  if (received.kind === "synth") return tooLarge(received);
  const f = received.facts;
  if (inv.trace) {
    inv.trace.rule = f.rule?.name ?? "-";
    inv.trace.key = f.key.key;
  }
  let d: Delivery;
  switch (received.kind) {
    case "pass":
      return headersTooLarge(request, rt.config.maxHeaderBytes) ?? pass(f, received.condition, rt, inv);
    case "refresh":
      d = await toOrigin(f, { ...FORWARD, status: skipStatus(received.condition), coalesce: false, notBefore: rt.now() }, rt, inv);
      break;
    case "lookup": {
      const known = personal(f) ? passedRecently(f, rt) : null;
      if (known) return headersTooLarge(request, rt.config.maxHeaderBytes) ?? pass(f, known, rt, inv);
      d = await cached(f, rt, inv);
      break;
    }
    default:
      return unreachable(received);
  }
  const own = ownFetch(f, d);
  if (!own) return d;
  void discard(d);
  if (d.source === "unshared") rememberPass(f, rt);
  return headersTooLarge(request, rt.config.maxHeaderBytes) ?? pass(f, own, rt, inv);
}

/** How long a key whose shared copy could not serve a visitor goes straight to the origin for such visitors. */
export const HIT_FOR_PASS_MS = 120_000;
const HIT_FOR_PASS_MAX = 1000;

/** A visitor whose request went the shared way only to see whether the shared copy may serve it. */
function personal(f: RequestFacts): boolean {
  return f.fragment ? f.request.headers.has("cookie") : f.cookies.session.length > 0;
}

function passedRecently(f: RequestFacts, rt: Runtime): SkipCondition | null {
  const until = rt.hitForPass.get(f.key.key);
  if (until === undefined) return null;
  if (until > rt.now()) return f.fragment ? PERSONAL_FRAGMENT : SESSION;
  rt.hitForPass.delete(f.key.key);
  return null;
}

function rememberPass(f: RequestFacts, rt: Runtime): void {
  if (rt.hitForPass.size >= HIT_FOR_PASS_MAX) rt.hitForPass.clear();
  rt.hitForPass.set(f.key.key, rt.now() + HIT_FOR_PASS_MS);
}

const FORWARD = { stale: null, storeUsable: true, coalesce: true, notBefore: 0 };

/** The lookup and what follows from its verdict. */
async function cached(f: RequestFacts, rt: Runtime, inv: Invocation): Promise<Delivery> {
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
      return toOrigin(f, { ...FORWARD, status: { ...missed, fwd: "stale", detail: looked.softPurgedBy ? "soft-purged" : undefined }, stale: looked.found }, rt, inv);
    case "purged":
      // Purged (possibly in another location): drop it here too and fetch afresh.
      inv.waitUntil(rt.writer.drop(looked.found.storeKey));
      await discard(looked.found.entry);
      return toOrigin(f, { ...FORWARD, status: { ...missed, detail: looked.by === "local-invalidation" ? "invalidated" : "purged" } }, rt, inv);
    case "miss":
      return toOrigin(f, { ...FORWARD, status: { ...missed, fwd: "uri-miss" } }, rt, inv);
    case "unavailable":
      return toOrigin(f, { ...FORWARD, status: missed, storeUsable: false }, rt, inv);
    default:
      return unreachable(looked);
  }
}

/** Why a request that went the shared way is fetched again for this visitor (with its cookies, never stored). */
const SESSION = SKIP_CONDITIONS.find((c) => c.name === "session")!;
const PERSONAL_FRAGMENT: SkipCondition = {
  name: "personal-fragment", why: "an ESI fragment that may not be shared: fetched again with the visitor's cookies", effect: "pass", report: "BYPASS",
  when: () => false,
};

/**
 * A visitor with a session on an ESI rule, and every ESI fragment, first go the shared way: the
 * shared copy, fetched without the visitor's cookies, so nothing personal can be stored. It serves
 * them only when it may: for a page, a shared ESI template (its personal parts are fragments); for
 * a fragment, a shared copy. Otherwise (not marked for ESI; answered private, no-store or with
 * Set-Cookie) the request is fetched again for this visitor alone, with its cookies.
 */
function ownFetch(f: RequestFacts, d: Delivery): SkipCondition | null {
  if (d.source === "synthetic" || !personal(f)) return null;
  const shared = d.source === "stored" || d.source === "fill";
  if (f.fragment) return shared ? null : PERSONAL_FRAGMENT;
  return shared && d.status === 200 && esiTemplate(d) ? null : SESSION;
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
