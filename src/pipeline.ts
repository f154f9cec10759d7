/**
 * The request's journey through the cache:
 *   size check -> cookies -> key -> rule -> bypass? -> lookup (Vary aware) -> fresh: purge check -> HIT
 *   stale: stale-while-revalidate, or revalidate / refill (coalesced) with stale-if-error as a fallback
 *   miss: fill (coalesced) -> store in the background -> answer (304 / 206 / full)
 * Built once per configuration and isolate; each call handles one request.
 */
import { createCoalescer, waitFor } from "./coalesce.ts";
import type { Config } from "./config.ts";
import { analyseCookies } from "./cookies.ts";
import { buildKey, type CacheKey, keyOptionsFor, variantKey } from "./key.ts";
import { lookup, type Found } from "./lookup.ts";
import { logFault } from "./log.ts";
import { buildOriginRequest, type OriginClient, type OriginRequest } from "./origin.ts";
import { bypassReason, matchRule, requestTooLarge } from "./policy.ts";
import { type CacheStatus, errorResponse, finish } from "./respond.ts";
import { answerRequest, FRESH_FILL, NOT_SHARED } from "./serve.ts";
import { currentAge, type EntryMeta, expectedLength, fromStored, keyRequest, readMeta, readWhole, ttlLeft } from "./store/entries.ts";
import type { TagIndex } from "./store/tag-index.ts";
import { createWriter, responseOf } from "./store/writer.ts";
import { varyHash } from "./vary.ts";

export interface PipelineDeps {
  config: Config;
  origin: OriginClient;
  /** Clock (ms); injectable so tests control time. */
  now: () => number;
  tagIndex: TagIndex;
  openCache: () => Promise<Cache>;
}

/** What a single invocation offers: background work that outlives the response, and a place to note facts for the log. */
export interface Invocation {
  waitUntil(promise: Promise<unknown>): void;
  trace?: { rule?: string; key?: string; originMs?: number };
}

export type Pipeline = (request: Request, inv: Invocation) => Promise<Response>;

const UNSAFE = new Set(["POST", "PUT", "DELETE", "PATCH"]);

/** Compile a configuration into a request handler (lists merged, sets built once). */
export function createPipeline(deps: PipelineDeps): Pipeline {
  const { config, origin, now, tagIndex, openCache } = deps;
  const analytics = [...config.analyticsCookies, ...config.extraAnalyticsCookies];
  const keyOptions = keyOptionsFor(config);
  const tagHeaders = config.tagHeaders.map((h) => h.toLowerCase());
  const strip = config.stripRequestHeaders.map((h) => h.toLowerCase());
  const allow = new Set(config.forwardHeaders.map((h) => h.toLowerCase()));
  const security = config.securityHeaders;
  const writer = createWriter({ config, keyOptions, now, openCache });
  // A lead older than twice the origin timeout plus the body's read is stale: released, never leaked.
  const coalescer = createCoalescer(config.originTimeoutMs * 4, now);
  const refreshing = new Set<string>();

  /** Headers on every response we send: tags and metadata stay private unless the debug switch is on. */
  function visible(res: Response, key: CacheKey | undefined, tags?: readonly string[]): Response {
    for (const h of tagHeaders) res.headers.delete(h);
    // The page was chosen by language: say so to browsers and caches downstream (RFC 9110 §12.5.5).
    if (key?.language !== undefined) {
      const vary = res.headers.get("vary");
      if (!vary) res.headers.set("vary", "Accept-Language");
      else if (!/(^|,)\s*(accept-language|\*)\s*(,|$)/i.test(vary)) res.headers.set("vary", `${vary}, Accept-Language`);
    }
    if (config.debugHeaders && key) {
      res.headers.set("x-edge-key", key.key);
      if (tags) res.headers.set("x-edge-tags", tags.join(","));
    }
    return res;
  }

  return async function handle(request, inv) {
    const tooLarge = requestTooLarge(request, config.maxUrlLength, config.maxHeaderBytes);
    if (tooLarge) {
      return finish(errorResponse(tooLarge.status, tooLarge.message), { status: { xCache: "BYPASS", fwd: "request", detail: tooLarge.detail }, security });
    }
    const url = new URL(request.url);
    const cookies = analyseCookies(request.headers.get("cookie"), analytics, config.sessionCookies);
    const key = buildKey(url, request.headers, keyOptions);
    const rule = matchRule(key.path, config.rules);
    if (inv.trace) {
      inv.trace.rule = rule?.name ?? "-";
      inv.trace.key = key.key;
    }
    const forward = {
      publicUrl: url, cookie: cookies.forward, forwardedHeaders: config.forwardedHeaders,
      clientIp: request.headers.get("cf-connecting-ip"), strip,
    };
    const reason = bypassReason({
      method: request.method,
      rule,
      sessionCookies: cookies.session,
      hasAuthorization: request.headers.has("authorization"),
      nocacheParam: config.allowNocacheParam && url.searchParams.has("nocache"),
    });
    const headOnly = request.method === "HEAD";

    if (reason !== null && reason !== "authorization") {
      // Bypassed: the origin gets the request as sent (analytics cookies aside); nothing is stored.
      const originReq = buildOriginRequest(request.headers, {
        ...forward, pathAndQuery: url.pathname + url.search, method: request.method, cacheable: false, body: request.body,
      });
      const status: CacheStatus = { xCache: "BYPASS", fwd: "bypass", detail: reason };
      const result = await origin.fetch(originReq);
      if (inv.trace) inv.trace.originMs = result.ms;
      if (!result.ok) return originFailure(result.kind, status);
      const res = result.response;
      // RFC 9111 §4.4: a successful unsafe request invalidates the target URI and the same-origin
      // Location / Content-Location URIs (in this location's cache; the purge API reaches the rest).
      if (UNSAFE.has(request.method) && res.status >= 200 && res.status < 400) {
        inv.waitUntil(writer.invalidateLocally(url, res.headers));
      }
      return visible(finish(res, { status: { ...status, fwdStatus: res.status }, security }), key);
    }

    // Cacheable (or an Authorization request, which may store what the origin explicitly shares).
    const authorization = reason === "authorization";
    const pathAndQuery = key.query ? `${key.path}?${key.query}` : key.path;
    // Built only when needed (a Vary marker or the origin): a plain HIT never pays for it.
    let built: OriginRequest | undefined;
    const originReq = () => (built ??= buildOriginRequest(request.headers, {
      ...forward, pathAndQuery, method: "GET", language: key.language, cacheable: true, body: null, allow,
    }));
    const baseStatus: CacheStatus = authorization ? { xCache: "BYPASS", fwd: "bypass", detail: "authorization" } : { xCache: "MISS", fwd: "miss" };
    const clientNoCache = config.honorClientNoCache && /no-cache/i.test(`${request.headers.get("cache-control") ?? ""} ${request.headers.get("pragma") ?? ""}`);

    let cache: Cache | undefined;
    let stale: Found | undefined;
    let markerSince = 0;
    let status: CacheStatus = { ...baseStatus };
    try {
      cache = await openCache();
      if (!authorization && !clientNoCache) {
        const found = await lookup(cache, key, () => originReq().headers);
        markerSince = found.markerSince;
        if (found.kind === "none") {
          status = { ...status, fwd: found.fwd };
        } else {
          const t = now();
          const left = ttlLeft(found.meta, t);
          if (left > 0 || (!found.meta.strict && found.meta.swr > 0 && -left < found.meta.swr)) {
            const purgedBy = await purgeCheck(found.meta, key);
            if (purgedBy === null) {
              if (left <= 0) refreshInBackground(inv, key, found, originReq(), markerSince);
              return await serveStored(request, found, left > 0 ? { xCache: "HIT", hit: true, ttl: left, detail: found.meta.rule } : {
                xCache: "HIT", hit: true, ttl: left, detail: "stale-while-revalidate",
              }, key);
            }
            // Purged (possibly in another location): drop it here too and fetch afresh.
            inv.waitUntil(cache.delete(keyRequest(found.cacheKey)).catch((e) => logFault("cache.delete", e, { key: found.cacheKey })));
            await found.stored.body?.cancel();
            status = { ...status, fwd: "miss", detail: "purged" };
          } else if ((await purgeCheck(found.meta, key)) === null) {
            stale = found;
            status = { ...status, fwd: "stale" };
          } else {
            // Purged and stale: never revalidated back to life with its old validators.
            inv.waitUntil(cache.delete(keyRequest(found.cacheKey)).catch((e) => logFault("cache.delete", e, { key: found.cacheKey })));
            await found.stored.body?.cancel();
            status = { ...status, fwd: "miss", detail: "purged" };
          }
        }
      }
    } catch (e) {
      logFault("cache.match", e, { key: key.key });
    }

    // To the origin: wait for an identical fill already in flight in this isolate, or lead one.
    if (!authorization) {
      const pending = coalescer.pending(key.key);
      if (pending) {
        const shared = await waitFor(pending, config.originTimeoutMs);
        // Usable only if it is this request's variant (a response that varies on Cookie, say).
        const mine = shared && (!shared.varyNames.length
          || variantKey(key, await varyHash(shared.varyNames, originReq().headers)) === shared.cacheKey);
        const sharedMeta = shared && mine ? readMeta(responseOf(shared)) : null;
        // ... and only if no purge landed after the leader's fill began.
        if (shared && sharedMeta && (await purgeCheck(sharedMeta, key)) === null) {
          await stale?.stored.body?.cancel();
          return serveStored(request, { stored: responseOf(shared), meta: sharedMeta, cacheKey: shared.cacheKey, varyNames: shared.varyNames }, { ...status, detail: "coalesced" }, key);
        }
      }
    }
    const settle = authorization ? null : coalescer.lead(key.key);
    let handedOff = false;
    try {
      const conditional: Record<string, string> = {};
      const etag = stale?.stored.headers.get("etag");
      const lastModified = stale?.stored.headers.get("last-modified");
      if (etag) conditional["if-none-match"] = etag;
      if (lastModified) conditional["if-modified-since"] = lastModified;
      const fillStartedAt = now();
      const result = await origin.fetch(originReq(), conditional);
      if (inv.trace) inv.trace.originMs = result.ms;

      if (!result.ok || result.response.status >= 500) {
        const fwdStatus = result.ok ? result.response.status : undefined;
        if (stale && (await canServeStaleOnError(stale, key))) {
          if (result.ok) await result.response.body?.cancel();
          return serveStale(request, stale, fwdStatus, key);
        }
        if (stale) await stale.stored.body?.cancel();
        if (!result.ok) return originFailure(stale?.meta.strict ? "timeout" : result.kind, status);
      }
      const resHead = (result as { response: Response }).response;

      if (resHead.status === 304 && stale) {
        const r = await writer.revalidated(stale, resHead.headers, rule, fillStartedAt);
        if (r.stored && cache) {
          inv.waitUntil(writer.putUnlessInvalidated(cache, key.key, stale.cacheKey, fillStartedAt, r.stored));
          settle?.(r.fill);
          handedOff = true;
          return serveStored(request, { ...stale, stored: responseOf(r.fill), meta: r.meta }, {
            ...status, fwdStatus: 304, stored: true, ttl: r.meta.ttl, detail: "revalidated",
          }, key);
        }
        // No longer storable after the 304's headers: this client still gets the validated response.
        if (cache) inv.waitUntil(cache.delete(keyRequest(stale.cacheKey)).catch(() => undefined));
        const response = r.stored === null ? r.response : responseOf(r.fill);
        return visible(finish(await answerRequest(request, response, NOT_SHARED), { status: { ...status, fwdStatus: 304, detail: "revalidated" }, security, headOnly }), key);
      }
      let res = resHead;
      if (stale && res.body && res.status < 500) {
        const length = expectedLength(res.headers);
        const bounded = length !== null && /^\d+$/.test(length) && Number(length) <= config.maxEntryBytes;
        if (bounded && (await canServeStaleOnError(stale, key))) {
          // A stale copy is there to fall back on: take the whole new body before answering, so a
          // connection that breaks mid-body serves the stale copy instead of a truncated page.
          const bytes = await readWhole(res.body, config.maxEntryBytes, length).catch(() => null);
          if (bytes === null) return serveStale(request, stale, res.status, key);
          res = new Response(bytes, { status: res.status, statusText: res.statusText, headers: res.headers });
        }
      }
      await stale?.stored.body?.cancel().catch(() => undefined);

      const fwdStatus = res.status;
      const judged = await writer.prepare(res, key, rule, () => originReq().headers, fillStartedAt, authorization);
      if (!("prepared" in judged) || !cache) {
        const detail = "reason" in judged ? judged.reason : "cache-unavailable";
        const cacheControl = "reason" in judged ? judged.cacheControl : undefined;
        return visible(finish(await answerRequest(request, res, NOT_SHARED), { status: { ...status, fwdStatus, detail }, cacheControl, security, headOnly }), key);
      }
      const p = judged.prepared;
      // The cache's copy is read whole in the background while the client streams its own.
      const [toClient, toCache] = headOnly || !res.body ? [null, res.body] : res.body.tee();
      handedOff = true;
      inv.waitUntil(writer.fill(cache, key, p, markerSince, res, toCache, settle));
      const clientRes = new Response(toClient, { status: res.status, statusText: res.statusText, headers: new Headers(res.headers) });
      return visible(finish(await answerRequest(request, clientRes, FRESH_FILL), {
        status: { ...status, fwdStatus, stored: true, ttl: p.decision.ttl, detail: status.detail ?? p.meta.rule },
        cacheControl: p.decision.cacheControl,
        age: p.decision.initialAge,
        security,
        headOnly,
      }), key, p.meta.tags);
    } finally {
      if (!handedOff) settle?.(null);
    }

    /** Serve a stored entry (fresh, SWR, coalesced or revalidated) as this client asked. */
    async function serveStored(req: Request, found: Found, s: CacheStatus, k: CacheKey, extra?: Record<string, string>): Promise<Response> {
      const t = now();
      const res = await answerRequest(req, fromStored(found.stored, found.meta));
      return visible(finish(res, { status: s, age: currentAge(found.meta, t), security, headOnly, extraHeaders: extra }), k, found.meta.tags);
    }

    /** RFC 5861 §4: the origin failed; serve the stale entry if its stale-if-error window allows. */
    function serveStale(req: Request, found: Found, fwdStatus: number | undefined, k: CacheKey): Promise<Response> {
      const left = ttlLeft(found.meta, now());
      return serveStored(req, found, { xCache: "HIT", hit: true, fwd: "stale", fwdStatus, ttl: left, detail: "stale-if-error" }, k, {
        // RFC 9111 obsoletes Warning, but clients and tools still read it.
        warning: '111 - "Revalidation Failed"',
      });
    }

    function originFailure(kind: "timeout" | "network", s: CacheStatus) {
      const [code, text, detail] = kind === "timeout"
        ? [504, "Gateway Timeout: the origin did not answer in time", "origin-timeout"]
        : [502, "Bad Gateway: the origin could not be reached", "origin-unreachable"];
      return finish(errorResponse(code, text), { status: { ...s, detail: s.detail ?? detail }, security });
    }
  };

  /** The tag that purged this entry, or null. KV trouble or slowness serves the entry (logged): availability first. */
  async function purgeCheck(meta: EntryMeta, k: CacheKey): Promise<string | null> {
    // Every tag's timestamp still remembered: answered without KV or a timer (the common hit).
    const known = tagIndex.purgedTagFromMemo(meta.tags, meta.fillStartedAt);
    if (known !== undefined) return known;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => { timer = setTimeout(() => r("timeout"), config.tagCheckTimeoutMs); });
    try {
      const r = await Promise.race([tagIndex.purgedTag(meta.tags, meta.fillStartedAt), timeout]);
      if (r === "timeout") {
        logFault("kv.get", new Error(`purge check took over ${config.tagCheckTimeoutMs} ms`), { key: k.key });
        return null;
      }
      return r;
    } catch (e) {
      logFault("kv.get", e, { key: k.key });
      return null;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  async function canServeStaleOnError(found: Found, k: CacheKey): Promise<boolean> {
    // RFC 9111 §4.2.4: never serve stale when an explicit directive forbids it (must-revalidate ...).
    if (found.meta.strict || -ttlLeft(found.meta, now()) > found.meta.sie) return false;
    return (await purgeCheck(found.meta, k)) === null;
  }

  /** RFC 5861 §3: refresh a stale entry in the background, one refresh per key per isolate. */
  function refreshInBackground(inv: Invocation, key: CacheKey, found: Found, originReq: OriginRequest, markerSince: number) {
    if (refreshing.has(found.cacheKey)) return;
    refreshing.add(found.cacheKey);
    const validators: Record<string, string> = {};
    const etag = found.stored.headers.get("etag");
    const lastModified = found.stored.headers.get("last-modified");
    if (etag) validators["if-none-match"] = etag;
    if (lastModified) validators["if-modified-since"] = lastModified;
    const rule = matchRule(key.path, config.rules);
    inv.waitUntil((async () => {
      try {
        const cache = await openCache();
        const fillStartedAt = now();
        const result = await origin.fetch(originReq, validators);
        if (!result.ok) return;
        const res = result.response;
        if (res.status >= 500) {
          await res.body?.cancel();
          return;
        }
        if (res.status === 304) {
          const again = await cache.match(keyRequest(found.cacheKey));
          const meta = again && readMeta(again);
          if (!again || !meta) return;
          const refreshed = await writer.revalidated({ ...found, stored: again, meta }, res.headers, rule, fillStartedAt);
          if (refreshed.stored) await writer.putUnlessInvalidated(cache, key.key, found.cacheKey, fillStartedAt, refreshed.stored);
          else await cache.delete(keyRequest(found.cacheKey));
          return;
        }
        const judged = await writer.prepare(res, key, rule, () => originReq.headers, fillStartedAt, false);
        if (!("prepared" in judged)) {
          await res.body?.cancel();
          // No longer storable: drop the stale copy so it is not served again.
          await cache.delete(keyRequest(found.cacheKey));
          return;
        }
        await writer.fill(cache, key, judged.prepared, markerSince, res, res.body, null);
      } catch (e) {
        logFault("refresh", e, { key: found.cacheKey });
      } finally {
        refreshing.delete(found.cacheKey);
      }
    })());
  }
}
