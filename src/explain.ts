/**
 * The explain endpoint (I/O): what the cache would do with a URL, for the caller's headers, and
 * what it holds for it. What people use varnishlog for, at the edge.
 *
 *   GET /__edge/explain?url=https://www.example.com/blog/x/?utm_source=a
 *   Authorization: Bearer $EXPLAIN_TOKEN   (or PURGE_TOKEN)
 *
 * The caller's other headers (Cookie, Accept-Language, ...) are evaluated as the request's own;
 * cookie values are never echoed, only names.
 */
import type { Config } from "./config.ts";
import { analyseCookies } from "./cookies.ts";
import { buildKey, keyOptionsFor } from "./key.ts";
import { lookup } from "./lookup.ts";
import { buildOriginRequest, type OriginClient } from "./origin.ts";
import { bypassReason, matchRuleWithPattern } from "./policy.ts";
import { currentAge, ttlLeft } from "./store/entries.ts";
import type { TagIndex } from "./store/tag-index.ts";

export interface ExplainDeps {
  config: Config;
  tagIndex: TagIndex;
  origin: OriginClient;
  openCache: () => Promise<Cache>;
  now: () => number;
}

const BYPASS_WHY: Record<string, string> = {
  method: "only GET and HEAD are answered from the cache",
  rule: "the matching rule says bypass",
  session: "a session cookie is present: the page may be personal",
  authorization: "the request carries Authorization: never answered from the cache (RFC 9111 §3.5)",
  "nocache-param": "?nocache is enabled and present",
};

function json(status: number, body: unknown): Response {
  return new Response(`${JSON.stringify(body, null, 2)}\n`, {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** Explain `target` as requested with `headers` (the explain request's own, minus its Authorization). */
export async function explain(target: string | null, headers: Headers, method: string, deps: ExplainDeps): Promise<Response> {
  const { config } = deps;
  if (!target) return json(400, { error: "give the URL to explain: ?url=https://host/path" });
  let url: URL;
  try {
    url = new URL(target);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("not http(s)");
  } catch {
    return json(400, { error: `not an absolute http(s) URL: ${target.slice(0, 200)}` });
  }
  const evaluated = new Headers(headers);
  evaluated.delete("authorization");
  const analytics = [...config.analyticsCookies, ...config.extraAnalyticsCookies];
  const cookies = analyseCookies(evaluated.get("cookie"), analytics, config.sessionCookies);
  const key = buildKey(url, evaluated, keyOptionsFor(config));
  const matched = matchRuleWithPattern(key.path, config.rules);
  const reason = bypassReason({
    method, rule: matched?.rule, sessionCookies: cookies.session, hasAuthorization: false,
    nocacheParam: config.allowNocacheParam && url.searchParams.has("nocache"),
  });
  const originReq = buildOriginRequest(evaluated, {
    publicUrl: url, pathAndQuery: key.query ? `${key.path}?${key.query}` : key.path, method: "GET",
    cookie: cookies.forward, language: key.language, cacheable: true, body: null,
    strip: config.stripRequestHeaders.map((h) => h.toLowerCase()), forwardedHeaders: config.forwardedHeaders,
    clientIp: headers.get("cf-connecting-ip"),
    allow: new Set(config.forwardHeaders.map((h) => h.toLowerCase())),
  });

  let entry: unknown = null;
  try {
    const found = await lookup(await deps.openCache(), key, () => originReq.headers);
    if (found.kind === "entry") {
      const t = deps.now();
      const left = ttlLeft(found.meta, t);
      const purgedBy = await deps.tagIndex.purgedTag(found.meta.tags, found.meta.fillStartedAt).catch((e: unknown) => `unknown (KV: ${String(e)})`);
      await found.stored.body?.cancel();
      entry = {
        cacheKey: found.cacheKey,
        varyOn: found.varyNames,
        status: found.stored.status,
        rule: found.meta.rule,
        storedAt: new Date(found.meta.storedAt).toISOString(),
        fillStartedAt: new Date(found.meta.fillStartedAt).toISOString(),
        age: currentAge(found.meta, t),
        ttl: found.meta.ttl,
        ttlLeft: left,
        state: left > 0 ? "fresh" : !found.meta.strict && found.meta.swr > 0 && -left < found.meta.swr ? "stale (served while revalidating)" : "stale (revalidated on next request)",
        staleWhileRevalidate: found.meta.swr,
        staleIfError: found.meta.sie,
        mustRevalidate: found.meta.strict,
        cacheControlSent: found.meta.cacheControl,
        etag: found.stored.headers.get("etag"),
        lastModified: found.stored.headers.get("last-modified"),
        tags: found.meta.tags,
        purged: purgedBy === null ? false : { by: purgedBy },
      };
    } else {
      entry = { none: found.fwd, varyOn: found.varyNames };
    }
  } catch (e) {
    entry = { error: `cache lookup failed: ${String(e)}` };
  }

  return json(200, {
    url: url.href,
    method,
    key: { cacheKey: key.key, url: key.url, path: key.path, query: key.query, droppedParams: key.dropped, language: key.language ?? null },
    cookies: {
      stripped: cookies.stripped,
      forwarded: cookies.forward === null ? [] : cookies.forward.split("; ").map((c) => c.split("=")[0]),
      session: cookies.session,
    },
    rule: matched
      ? { name: matched.rule.name, pattern: matched.pattern, why: `first rule whose pattern matches ${key.path}`, cacheControl: matched.rule.cacheControl ?? null, mode: matched.rule.mode, bypass: matched.rule.bypass, contentTypes: matched.rule.contentTypes ?? null, tags: matched.rule.tags }
      : { name: null, why: "no rule matches: only the origin's explicit caching headers apply" },
    bypass: reason === null ? { bypass: false } : { bypass: true, reason, why: BYPASS_WHY[reason] },
    originRequest: { url: originReq.pathAndQuery, headers: Object.fromEntries([...originReq.headers].filter(([k]) => k !== "cookie")) },
    entry,
    origins: deps.origin.health(),
  });
}

export { json as explainJson };
