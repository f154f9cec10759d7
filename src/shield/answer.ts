/**
 * The shield's journey for one location's miss (I/O): the same phases as a location's (lookup with
 * the purge check, coalescing, the fetch machine and its verdicts, the writer), over the shield's
 * own storage tier, ending in an answer to the location instead of a client response.
 *
 * One shield object per key, so every request for a key, from every location and isolate, meets
 * here: concurrent ones coalesce on one origin fetch, later ones are answered from storage while
 * the copy is fresh (or usable stale), and an expired copy is revalidated with one conditional request.
 */
import type { CacheStatus } from "../http/cache-status.ts";
import type { Config } from "../config.ts";
import { analyseCookies } from "../cookies.ts";
import type { CacheKey } from "../key.ts";
import { fillRequest, type OriginRequest } from "../origin.ts";
import { type BackendVerdict } from "../phases/fetch.ts";
import { forward, withSmallBodyRead } from "../phases/forward.ts";
import { type FoundEntry, lookup } from "../phases/lookup.ts";
import type { Lead } from "../phases/miss.ts";
import type { RequestFacts } from "../phases/recv.ts";
import { refreshInBackground } from "../phases/refresh.ts";
import { fillAndShare } from "../phases/store.ts";
import { matchRuleWithPattern } from "../policy.ts";
import { type Invocation, type Runtime, unreachable } from "../runtime.ts";
import { discard, expectedLength, ttlLeft } from "../store/entries.ts";
import { entryHeaders } from "../store/writer.ts";
import { entryAnswer, failedAnswer, passAnswer, type ShieldRequest } from "./wire.ts";

/** A request's facts rebuilt from its key: all the shield knows of it, and all the origin is sent. */
export function shieldFacts(key: CacheKey, config: Config): RequestFacts {
  const matched = matchRuleWithPattern(key.path, config.rules);
  let built: OriginRequest | undefined;
  const request = new Request(key.url);
  return {
    request, key, url: new URL(key.url), method: "GET", headOnly: false, hasAuthorization: false, fragment: false,
    cookies: analyseCookies(null, config.cookieRules), rule: matched?.rule, pattern: matched?.pattern, bypassRule: undefined,
    originRequest: () => (built ??= fillRequest(key, config.fill, matched?.rule.esi === true)),
  };
}

/** Answer a location's miss for `req.key`. */
export async function answerFill(req: ShieldRequest, rt: Runtime, inv: Invocation): Promise<Response> {
  const f = shieldFacts(req.key, rt.config);
  const looked = await lookup(f, rt, (p) => inv.waitUntil(p));
  const status: CacheStatus = { xCache: "MISS", fwd: "uri-miss" };
  let stale: FoundEntry | null = null;
  const tooOld = (found: FoundEntry) => found.entry.meta.fillStartedAt < req.notBefore;
  switch (looked.kind) {
    case "hit": {
      const { found } = looked;
      if (tooOld(found)) {
        await discard(found.entry);
        status.detail = "purged";
        break;
      }
      const hit: CacheStatus = { xCache: "HIT", hit: true, ttl: ttlLeft(found.entry.meta, rt.now()), detail: found.entry.meta.rule };
      if (looked.state === "fresh") return entryAnswer(found.entry, "hit", hit, false, rt.now());
      const held = await withSmallBodyRead(found);
      refreshInBackground(f, held, rt, inv);
      return entryAnswer(held.entry, "stale-while-revalidate", { ...hit, detail: "stale-while-revalidate" }, false, rt.now());
    }
    case "stale":
      if (tooOld(looked.found)) await discard(looked.found.entry);
      else stale = looked.found;
      status.fwd = "stale";
      break;
    case "purged":
      inv.waitUntil(rt.writer.drop(looked.found.storeKey));
      await discard(looked.found.entry);
      status.detail = "purged";
      break;
    case "miss":
    case "unavailable":
      break;
    default:
      return unreachable(looked);
  }
  const fw = await forward(f, { stale, coalesce: true, storeUsable: true, notBefore: 0 }, rt, inv);
  switch (fw.kind) {
    case "coalesced":
      return entryAnswer(fw.found.entry, "coalesced", { xCache: "HIT", hit: true, ttl: ttlLeft(fw.found.entry.meta, rt.now()), detail: "coalesced" }, false, rt.now());
    case "stale":
      return entryAnswer(fw.stale.entry, "stale", { xCache: "HIT", hit: true, fwd: "stale", ttl: ttlLeft(fw.stale.entry.meta, rt.now()), detail: `stale-${fw.why}` }, false, rt.now());
    case "backend":
      try {
        return await verdictAnswer(fw.verdict, { f, rt, inv, lead: fw.lead, stale: fw.stale, status });
      } finally {
        fw.lead.release();
      }
    default:
      return unreachable(fw);
  }
}

interface AnswerContext {
  f: RequestFacts;
  rt: Runtime;
  inv: Invocation;
  lead: Lead;
  stale: FoundEntry | null;
  status: CacheStatus;
}

/** Store what the verdict allows (shared with coalesced callers here) and answer the location. */
async function verdictAnswer(v: BackendVerdict, c: AnswerContext): Promise<Response> {
  const { rt, status } = c;
  const now = rt.now();
  switch (v.kind) {
    case "stale-if-error": {
      const e = (v.found ?? c.stale!).entry;
      return entryAnswer(e, "stale", { xCache: "HIT", hit: true, fwd: "stale", fwdStatus: v.fwdStatus, ttl: ttlLeft(e.meta, now), detail: "stale-if-error" }, true, now);
    }
    case "failed":
    case "discarded": {
      const failure = v.kind === "failed" && v.failure === "timeout" ? "timeout" : "network";
      return failedAnswer(failure, { ...status, detail: failure === "timeout" ? "origin-timeout" : "origin-unreachable" });
    }
    case "revalidated": {
      const { entry, stored } = v.result;
      const answered = { ...status, fwdStatus: 304, detail: "revalidated" };
      const storeKey = c.f.key.key;
      if (!stored) {
        c.inv.waitUntil(rt.writer.drop(storeKey));
        return passAnswer(new Response(entry.body, { status: entry.status, headers: entry.headers }), answered);
      }
      let toLocation = entry;
      if (entry.body instanceof ReadableStream) {
        const [a, b] = entry.body.tee();
        toLocation = { ...entry, body: a };
        c.inv.waitUntil(rt.writer.putUnlessInvalidated(c.f.key.url, storeKey, v.fillStartedAt, { ...entry, body: b }));
      } else {
        // Stored before the callers coalesced here are released (unlike a location, which answers
        // first): one arriving meanwhile waits for this copy instead of revalidating again.
        await rt.writer.putUnlessInvalidated(c.f.key.url, storeKey, v.fillStartedAt, entry);
        c.lead.handOff()({ entry, storeKey });
      }
      return entryAnswer(toLocation, "revalidated", { ...answered, stored: true, ttl: entry.meta.ttl }, true, now);
    }
    case "unstorable":
      return passAnswer(v.res, { ...status, fwdStatus: v.res.status, detail: v.reason });
    case "storable": {
      const { res, prepared: p } = v;
      const length = expectedLength(res.headers);
      const size = length !== null && /^\d+$/.test(length) ? Number(length) : -1;
      // One branch to the location, one to storage (read whole, shared with the callers coalesced here).
      const [toLocation, toStore] = res.body ? res.body.tee() : [null, null];
      void fillAndShare(c, c.f.key, p, res, toStore);
      const entry = { kind: "entry", status: res.status, headers: entryHeaders(res, p, size), body: toLocation, size, meta: p.meta } as const;
      return entryAnswer(entry, "miss", { ...status, fwdStatus: res.status, stored: true, ttl: p.decision.ttl }, true, now);
    }
    default:
      return unreachable(v);
  }
}
