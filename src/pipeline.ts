/**
 * The request's journey through the cache: cookies -> key -> rule -> bypass? -> lookup -> origin -> store.
 * Built once per configuration; each call handles one request.
 */
import type { Config } from "./config.ts";
import { analyseCookies } from "./cookies.ts";
import { buildKey, type CacheKey } from "./key.ts";
import { logFault } from "./log.ts";
import { buildOriginRequest, fetchOrigin, type OriginTarget } from "./origin.ts";
import { bypassReason, matchRule, storeDecision } from "./policy.ts";
import { errorResponse, finish } from "./respond.ts";
import { currentAge, type EntryMeta, fromStored, keyRequest, readMeta, readWhole, toStored, ttlLeft } from "./store/entries.ts";

export interface PipelineDeps {
  config: Config;
  origin: OriginTarget;
  /** Clock (ms); injectable so tests control time. */
  now: () => number;
}

/** What a single invocation offers: background work that outlives the response. */
export interface Invocation {
  waitUntil(promise: Promise<unknown>): void;
}

export type Pipeline = (request: Request, inv: Invocation) => Promise<Response>;

/** Compile a configuration into a request handler (lists merged, sets built once). */
export function createPipeline(deps: PipelineDeps): Pipeline {
  const { config, origin, now } = deps;
  const analytics = [...config.analyticsCookies, ...config.extraAnalyticsCookies];
  const tracking = [...config.trackingParams, ...config.extraTrackingParams].map((p) => p.toLowerCase());
  const keyOptions = { cacheVersion: config.cacheVersion, trackingParams: tracking, languages: config.languages };
  // Vary fields our key accounts for: Accept-Encoding is handled by the Cache API itself,
  // Accept-Language is folded into the key when languages are configured.
  const keyedVary = new Set(["accept-encoding", ...(config.languages.length > 0 ? ["accept-language"] : [])]);
  let cachePromise: Promise<Cache> | undefined;
  const openCache = () => (cachePromise ??= caches.open(config.cacheName));

  return async function handle(request, inv) {
    const url = new URL(request.url);
    const cookies = analyseCookies(request.headers.get("cookie"), analytics, config.sessionCookies);
    const key = buildKey(url, request.headers, keyOptions);
    const rule = matchRule(key.path, config.rules);
    const clientIp = request.headers.get("cf-connecting-ip");
    const forward = {
      publicUrl: url, cookie: cookies.forward, forwardedHeaders: config.forwardedHeaders, clientIp,
    };

    const reason = bypassReason({
      method: request.method,
      rule,
      sessionCookies: cookies.session,
      hasAuthorization: request.headers.has("authorization"),
      nocacheParam: config.allowNocacheParam && url.searchParams.has("nocache"),
    });
    if (reason !== null) {
      // Bypassed: the origin gets the request as sent (analytics cookies aside); nothing is stored.
      const originReq = buildOriginRequest(origin, request.headers, {
        ...forward, pathAndQuery: url.pathname + url.search, method: request.method, cacheable: false, body: request.body,
      });
      const result = await fetchOrigin(origin, originReq, config.originTimeoutMs, now);
      if (!result.ok) return originFailure(result.kind, { xCache: "BYPASS", fwd: "bypass", detail: reason });
      return finish(result.response, { status: { xCache: "BYPASS", fwd: "bypass", detail: reason }, security: config.securityHeaders });
    }

    const headOnly = request.method === "HEAD";
    let cache: Cache | undefined;
    let fwd: "miss" | "stale" = "miss";
    try {
      cache = await openCache();
      const stored = await cache.match(keyRequest(key.key));
      if (stored) {
        const meta = readMeta(stored);
        const t = now();
        if (meta && ttlLeft(meta, t) > 0) {
          return finish(fromStored(stored, meta), {
            status: { xCache: "HIT", hit: true, ttl: ttlLeft(meta, t), detail: meta.rule },
            age: currentAge(meta, t),
            security: config.securityHeaders,
            headOnly,
          });
        }
        await stored.body?.cancel();
        fwd = "stale";
      }
    } catch (e) {
      logFault("cache.match", e, { key: key.key });
    }

    // Miss (HEAD too: the origin is asked for GET so the entry can be filled, as Varnish does).
    const pathAndQuery = key.query ? `${key.path}?${key.query}` : key.path;
    const originReq = buildOriginRequest(origin, request.headers, {
      ...forward, pathAndQuery, method: "GET", language: key.language, cacheable: true, body: null,
    });
    const result = await fetchOrigin(origin, originReq, config.originTimeoutMs, now);
    if (!result.ok) return originFailure(result.kind, { xCache: "MISS", fwd, detail: undefined });
    const res = result.response;
    const decision = storeDecision({
      status: res.status, headers: res.headers, rule, keyedVary, negativeTtl: config.negativeTtl, now: now(),
    });
    const security = config.securityHeaders;
    if (!decision.store || !cache) {
      const detail = decision.store ? "cache-unavailable" : decision.reason;
      return finish(res, { status: { xCache: "MISS", fwd, detail }, cacheControl: decision.cacheControl, security, headOnly });
    }

    const meta: EntryMeta = {
      storedAt: now(), ttl: decision.ttl, initialAge: decision.initialAge, rule: rule?.name ?? "-",
      tags: rule?.tags.map((t) => t.toLowerCase()) ?? [], url: key.url, cacheControl: decision.cacheControl,
    };
    // The client streams its branch while the cache's branch is read whole in the background.
    const [toClient, toCache] = headOnly || !res.body ? [null, res.body] : res.body.tee();
    inv.waitUntil(store(cache, key, res, toCache, meta, config.maxEntryBytes));
    return finish(new Response(toClient, res), {
      status: { xCache: "MISS", fwd, stored: true, ttl: decision.ttl, detail: meta.rule },
      cacheControl: decision.cacheControl,
      age: decision.initialAge,
      security,
      headOnly,
    });

    function originFailure(kind: "timeout" | "network", status: { xCache: "MISS" | "BYPASS"; fwd: "miss" | "stale" | "bypass"; detail: string | undefined }) {
      const [code, text, detail] = kind === "timeout"
        ? [504, "Gateway Timeout: the origin did not answer in time", "origin-timeout"]
        : [502, "Bad Gateway: the origin could not be reached", "origin-unreachable"];
      return finish(errorResponse(code, text), { status: { ...status, detail: status.detail ?? detail }, security: config.securityHeaders });
    }
  };
}

/** Write an entry once its whole body has arrived; a body that fails or is too large is not stored. */
async function store(cache: Cache, key: CacheKey, res: Response, body: ReadableStream | null, meta: EntryMeta, limit: number): Promise<void> {
  let bytes: Uint8Array | null = null;
  if (body) {
    try {
      bytes = await readWhole(body, limit, res.headers.get("content-length"));
    } catch (e) {
      logFault("origin.body", e, { key: key.key });
      return;
    }
    if (bytes === null) return; // too large, or shorter than its Content-Length
  }
  try {
    await cache.put(keyRequest(key.key), toStored(res, bytes, meta, meta.ttl));
  } catch (e) {
    logFault("cache.put", e, { key: key.key });
  }
}
