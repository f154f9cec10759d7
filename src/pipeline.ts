/**
 * The request's journey through the cache: cookies -> key -> rule -> bypass? -> lookup -> origin -> store.
 * Built once per configuration; each call handles one request.
 */
import type { Config } from "./config.ts";
import { analyseCookies } from "./cookies.ts";
import { buildKey, type CacheKey, keyOptionsFor } from "./key.ts";
import { logEvent, logFault } from "./log.ts";
import { buildOriginRequest, fetchOrigin, type OriginTarget } from "./origin.ts";
import { bypassReason, matchRule, requestTooLarge, storeDecision } from "./policy.ts";
import { errorResponse, finish } from "./respond.ts";
import { currentAge, type EntryMeta, fromStored, keyRequest, readMeta, readWhole, toStored, ttlLeft } from "./store/entries.ts";
import type { TagIndex } from "./store/tag-index.ts";
import { DERIVED_TAG_BYTES, derivedTags, MAX_TAG_BYTES, parseTagHeaders } from "./tags.ts";

export interface PipelineDeps {
  config: Config;
  origin: OriginTarget;
  /** Clock (ms); injectable so tests control time. */
  now: () => number;
  tagIndex: TagIndex;
  openCache: () => Promise<Cache>;
}

/** What a single invocation offers: background work that outlives the response. */
export interface Invocation {
  waitUntil(promise: Promise<unknown>): void;
}

export type Pipeline = (request: Request, inv: Invocation) => Promise<Response>;

/** Compile a configuration into a request handler (lists merged, sets built once). */
export function createPipeline(deps: PipelineDeps): Pipeline {
  const { config, origin, now, tagIndex, openCache } = deps;
  const analytics = [...config.analyticsCookies, ...config.extraAnalyticsCookies];
  const keyOptions = keyOptionsFor(config);
  const tagHeaders = config.tagHeaders.map((h) => h.toLowerCase());
  const strip = config.stripRequestHeaders.map((h) => h.toLowerCase());
  // Vary fields our key accounts for: Accept-Encoding is handled by the Cache API itself,
  // Accept-Language is folded into the key when languages are configured.
  const keyedVary = new Set(["accept-encoding", ...(config.languages.length > 0 ? ["accept-language"] : [])]);

  /** Headers on every response we send: tags and metadata stay private unless the debug switch is on. */
  function visible(res: Response, key: CacheKey, tags?: readonly string[]): Response {
    for (const h of tagHeaders) res.headers.delete(h);
    if (config.debugHeaders) {
      res.headers.set("x-edge-key", key.key);
      if (tags) res.headers.set("x-edge-tags", tags.join(","));
    }
    return res;
  }

  return async function handle(request, inv) {
    const tooLarge = requestTooLarge(request, config.maxUrlLength, config.maxHeaderBytes);
    if (tooLarge) {
      const res = errorResponse(tooLarge.status, tooLarge.message);
      return finish(res, { status: { xCache: "BYPASS", fwd: "request", detail: tooLarge.detail }, security: config.securityHeaders });
    }
    const url = new URL(request.url);
    const cookies = analyseCookies(request.headers.get("cookie"), analytics, config.sessionCookies);
    const key = buildKey(url, request.headers, keyOptions);
    const rule = matchRule(key.path, config.rules);
    const clientIp = request.headers.get("cf-connecting-ip");
    const forward = {
      publicUrl: url, cookie: cookies.forward, forwardedHeaders: config.forwardedHeaders, clientIp, strip,
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
      return visible(finish(result.response, { status: { xCache: "BYPASS", fwd: "bypass", detail: reason }, security: config.securityHeaders }), key);
    }

    const headOnly = request.method === "HEAD";
    let cache: Cache | undefined;
    let fwd: "miss" | "stale" = "miss";
    let missDetail: string | undefined;
    try {
      cache = await openCache();
      const stored = await cache.match(keyRequest(key.key));
      if (stored) {
        const meta = readMeta(stored);
        const t = now();
        if (meta && ttlLeft(meta, t) > 0) {
          const purgedBy = await purgeCheck(meta, key);
          if (purgedBy === null) {
            return visible(finish(fromStored(stored, meta), {
              status: { xCache: "HIT", hit: true, ttl: ttlLeft(meta, t), detail: meta.rule },
              age: currentAge(meta, t),
              security: config.securityHeaders,
              headOnly,
            }), key, meta.tags);
          }
          // Purged (possibly in another location): drop it here too and fetch afresh.
          missDetail = "purged";
          const c = cache;
          inv.waitUntil(c.delete(keyRequest(key.key)).catch((e) => logFault("cache.delete", e, { key: key.key })));
        } else {
          fwd = "stale";
        }
        await stored.body?.cancel();
      }
    } catch (e) {
      logFault("cache.match", e, { key: key.key });
    }

    // Miss (HEAD too: the origin is asked for GET so the entry can be filled, as Varnish does).
    const pathAndQuery = key.query ? `${key.path}?${key.query}` : key.path;
    const originReq = buildOriginRequest(origin, request.headers, {
      ...forward, pathAndQuery, method: "GET", language: key.language, cacheable: true, body: null,
    });
    // Taken before the origin is asked: a purge landing while this fill is in flight invalidates it.
    const fillStartedAt = now();
    const result = await fetchOrigin(origin, originReq, config.originTimeoutMs, now);
    if (!result.ok) return originFailure(result.kind, { xCache: "MISS", fwd, detail: undefined });
    const res = result.response;
    const decision = storeDecision({
      status: res.status, headers: res.headers, rule, keyedVary, negativeTtl: config.negativeTtl, now: now(),
    });
    const security = config.securityHeaders;
    if (!decision.store || !cache) {
      const detail = decision.store ? "cache-unavailable" : decision.reason;
      return visible(finish(res, { status: { xCache: "MISS", fwd, detail }, cacheControl: decision.cacheControl, security, headOnly }), key);
    }

    const tags = await entryTags(res.headers, tagHeaders, key, url.host, rule?.tags ?? []);
    const meta: EntryMeta = {
      storedAt: now(), fillStartedAt, ttl: decision.ttl, initialAge: decision.initialAge, rule: rule?.name ?? "-",
      tags, url: key.url, cacheControl: decision.cacheControl,
    };
    // The client streams its branch while the cache's branch is read whole in the background.
    const [toClient, toCache] = headOnly || !res.body ? [null, res.body] : res.body.tee();
    inv.waitUntil(store(cache, key, res, toCache, meta, config.maxEntryBytes));
    return visible(finish(new Response(toClient, res), {
      status: { xCache: "MISS", fwd, stored: true, ttl: decision.ttl, detail: missDetail ?? meta.rule },
      cacheControl: decision.cacheControl,
      age: decision.initialAge,
      security,
      headOnly,
    }), key, tags);

    /** The tag that purged this entry, or null. KV trouble or slowness serves the entry (logged): availability first. */
    async function purgeCheck(meta: EntryMeta, k: CacheKey): Promise<string | null> {
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

    function originFailure(kind: "timeout" | "network", status: { xCache: "MISS" | "BYPASS"; fwd: "miss" | "stale" | "bypass"; detail: string | undefined }) {
      const [code, text, detail] = kind === "timeout"
        ? [504, "Gateway Timeout: the origin did not answer in time", "origin-timeout"]
        : [502, "Bad Gateway: the origin could not be reached", "origin-unreachable"];
      return finish(errorResponse(code, text), { status: { ...status, detail: status.detail ?? detail }, security: config.securityHeaders });
    }
  };
}

/** Every tag an entry carries: the origin's (validated), the rule's, and those derived from its identity. */
async function entryTags(headers: Headers, names: readonly string[], key: CacheKey, host: string, ruleTags: readonly string[]): Promise<string[]> {
  const parsed = parseTagHeaders(headers, names, MAX_TAG_BYTES - DERIVED_TAG_BYTES);
  if (parsed.dropped.length) logEvent("warn", "tags-dropped", { key: key.key, dropped: parsed.dropped.slice(0, 10) });
  const all = [...parsed.tags, ...ruleTags.map((t) => t.toLowerCase()), ...(await derivedTags(host, key.path, key.url))];
  return [...new Set(all)];
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
