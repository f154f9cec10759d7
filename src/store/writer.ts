/**
 * Writing entries (I/O): decide whether an origin response is stored and under which key, store
 * it once its whole body has arrived (with its Vary marker), refresh an entry from a 304, and
 * invalidate a URI in this location. Used by the request path and by background refreshes alike.
 */
import type { SharedFill } from "../coalesce.ts";
import type { Config, Rule } from "../config.ts";
import { type CacheKey, type KeyOptions, keysForUrl, variantKey } from "../key.ts";
import { logEvent, logFault } from "../log.ts";
import type { Found } from "../lookup.ts";
import { type StoreDecision, storeDecision, varyFields } from "../policy.ts";
import { DERIVED_TAG_BYTES, derivedTags, MAX_TAG_BYTES, parseTagHeaders } from "../tags.ts";
import { MAX_VARY_FIELDS, varyHash } from "../vary.ts";
import {
  type EntryMeta, expectedLength, graceOf, keyRequest, markerResponse, originHeadersOf, readMarker, readWhole, toStored,
} from "./entries.ts";

/** A response judged storable, with everything needed to store it. */
export interface Prepared {
  decision: Extract<StoreDecision, { store: true }>;
  meta: EntryMeta;
  /** The base key, or the variant key when the response varies. */
  storeKey: string;
  varyNames: string[];
  /** How long the Cache API keeps it: freshness plus any stale use. */
  keepFor: number;
}

export interface WriterDeps {
  config: Config;
  keyOptions: KeyOptions;
  now: () => number;
  openCache: () => Promise<Cache>;
}

export type Writer = ReturnType<typeof createWriter>;

export function createWriter({ config, keyOptions, now, openCache }: WriterDeps) {
  const tagHeaders = config.tagHeaders.map((h) => h.toLowerCase());
  // Vary fields the key already accounts for: Accept-Encoding (the platform serves every coding
  // from one object), and Accept-Language for keys that fold it in (not rules with language: false).
  const keyedVary = new Set(["accept-encoding"]);
  const keyedVaryWithLanguage = new Set(["accept-encoding", "accept-language"]);
  // Local invalidations (unsafe methods) by base key, so a fill that began before one is not stored
  // after it (per isolate; bounded).
  const invalidatedAt = new Map<string, number>();
  const INVALIDATIONS_KEPT = 10_000;
  const invalidatedSince = (baseKey: string, since: number) => {
    const at = invalidatedAt.get(baseKey);
    return at !== undefined && at >= since;
  };
  const decide = (status: number, headers: Headers, rule: Rule | undefined, authorization = false) => storeDecision({
    status, headers, rule, negativeTtl: config.negativeTtl, now: now(), authorization,
    defaultSie: config.staleIfError, defaultSwr: config.staleWhileRevalidate,
  });

  /** Every tag an entry carries: the origin's (validated), the rule's, and those derived from its identity. */
  async function entryTags(headers: Headers, key: CacheKey, ruleTags: readonly string[]): Promise<string[]> {
    const parsed = parseTagHeaders(headers, tagHeaders, MAX_TAG_BYTES - DERIVED_TAG_BYTES);
    if (parsed.dropped.length) logEvent("warn", "tags-dropped", { key: key.key, dropped: parsed.dropped.slice(0, 10) });
    const host = new URL(key.url).host;
    return [...new Set([...parsed.tags, ...ruleTags.map((t) => t.toLowerCase()), ...(await derivedTags(host, key.path, key.url))])];
  }

  return {
    /**
     * Judge an origin response: `{ prepared }` when it is stored, else the reason (the decision's, or
     * "vary" for too many Vary fields) and the Cache-Control the client should see.
     */
    async prepare(
      res: Response, key: CacheKey, rule: Rule | undefined, originHeaders: () => Headers, fillStartedAt: number, authorization: boolean,
    ): Promise<{ prepared: Prepared } | { reason: string; cacheControl: string | null }> {
      const decision = decide(res.status, res.headers, rule, authorization);
      if (!decision.store) return { reason: decision.reason, cacheControl: decision.cacheControl };
      const length = expectedLength(res.headers);
      if (length !== null && Number(length) > config.maxEntryBytes) return { reason: "too-large", cacheControl: decision.cacheControl };
      const keyed = key.language !== undefined ? keyedVaryWithLanguage : keyedVary;
      const varyNames = varyFields(res.headers.get("vary")).filter((n) => !keyed.has(n));
      if (varyNames.length > MAX_VARY_FIELDS) return { reason: "vary", cacheControl: decision.cacheControl };
      const meta: EntryMeta = {
        storedAt: now(), fillStartedAt, ttl: decision.ttl, initialAge: decision.initialAge, rule: rule?.name ?? "-",
        tags: await entryTags(res.headers, key, rule?.tags ?? []), url: key.url, cacheControl: decision.cacheControl,
        swr: decision.swr, sie: decision.sie, strict: decision.strict,
      };
      const storeKey = varyNames.length ? variantKey(key, await varyHash(varyNames, originHeaders())) : key.key;
      const keepFor = decision.ttl + graceOf(meta, res.headers.has("etag") || res.headers.has("last-modified"));
      return { prepared: { decision, meta, storeKey, varyNames, keepFor } };
    },

    /**
     * Store a prepared entry once its whole body has arrived (a body that fails or is too large is
     * not stored), plus the Vary marker when it varies; then hand the stored copy to coalesced waiters.
     */
    async fill(
      cache: Cache, key: CacheKey, p: Prepared, markerSince: number, res: Response, body: ReadableStream | null,
      settle: ((fill: SharedFill | null) => void) | null,
    ): Promise<void> {
      let shared: SharedFill | null = null;
      try {
        if (invalidatedSince(key.key, p.meta.fillStartedAt)) {
          await body?.cancel();
          return; // an unsafe request invalidated this URI while the fill was in flight
        }
        let bytes: Uint8Array | null = null;
        if (body) {
          try {
            bytes = await readWhole(body, config.maxEntryBytes, expectedLength(res.headers));
          } catch (e) {
            logFault("origin.body", e, { key: p.storeKey });
            return;
          }
          if (bytes === null) return; // too large, or shorter than its Content-Length
        }
        const stored = toStored(res, bytes, p.meta, p.keepFor);
        shared = sharedFill(stored, bytes, p.storeKey, p.varyNames);
        // Again now that the body is in: an unsafe request may have landed while it streamed.
        if (invalidatedSince(key.key, p.meta.fillStartedAt)) {
          shared = null;
          return;
        }
        await putEntry(cache, p.storeKey, stored);
        // Never lower a marker's "since" below a local invalidation made after the lookup.
        const since = Math.max(markerSince, invalidatedAt.get(key.key) ?? 0);
        if (p.varyNames.length) await putEntry(cache, key.key, markerResponse(p.varyNames, since, p.keepFor));
      } finally {
        settle?.(shared);
      }
    },

    /**
     * RFC 9111 §4.3.4: the origin answered 304 to our revalidation. The stored response, with the
     * header fields it had from the origin updated by the 304's, is judged again like a new one:
     * `stored` is the refreshed entry to write, or null when it may no longer be stored, in which
     * case `response` (body and merged headers) is still this request's answer.
     */
    async revalidated(stale: Found, notModified: Headers, rule: Rule | undefined, fillStartedAt: number): Promise<
      { stored: Response; fill: SharedFill; meta: EntryMeta } | { stored: null; response: Response }
    > {
      const merged = mergeNotModified(originHeadersOf(stale.stored), notModified);
      // The stored body may predate a lower maxEntryBytes: read it whole (it is bounded by what was
      // stored), answer with it, and store it again only within today's limit.
      const bytes = stale.stored.body ? new Uint8Array(await stale.stored.arrayBuffer()) : new Uint8Array();
      const d = decide(stale.stored.status, merged, rule);
      if (!d.store || bytes.byteLength > config.maxEntryBytes) {
        if (d.cacheControl === null) merged.delete("cache-control");
        else merged.set("cache-control", d.cacheControl);
        return { stored: null, response: new Response(bytes, { status: stale.stored.status, headers: merged }) };
      }
      const meta: EntryMeta = {
        ...stale.meta, storedAt: now(), fillStartedAt, ttl: d.ttl, initialAge: d.initialAge, cacheControl: d.cacheControl,
        swr: d.swr, sie: d.sie, strict: d.strict,
      };
      const stored = toStored(new Response(null, { status: stale.stored.status, headers: merged }), bytes, meta, d.ttl + graceOf(meta, true));
      return { stored, fill: sharedFill(stored, bytes, stale.cacheKey, stale.varyNames), meta };
    },

    /** Write a refreshed entry unless an unsafe request invalidated its URI after `since` (a revalidation that raced a POST). */
    async putUnlessInvalidated(cache: Cache, baseKey: string, storeKey: string, since: number, response: Response): Promise<void> {
      if (invalidatedSince(baseKey, since)) {
        await response.body?.cancel();
        return;
      }
      await putEntry(cache, storeKey, response);
    },

    /** RFC 9111 §4.4 in this location: invalidate the URI and its same-origin Location / Content-Location. */
    async invalidateLocally(target: URL, headers: Headers): Promise<void> {
      const urls = [target];
      for (const name of ["location", "content-location"]) {
        const v = headers.get(name);
        if (!v) continue;
        try {
          const u = new URL(v, target);
          if (u.host === target.host) urls.push(u); // "same origin" only: no invalidation of other sites
        } catch { /* unparseable Location: nothing to invalidate */ }
      }
      try {
        const cache = await openCache();
        for (const u of urls) {
          for (const k of keysForUrl(u, keyOptions)) {
            if (invalidatedAt.size >= INVALIDATIONS_KEPT) invalidatedAt.clear();
            invalidatedAt.set(k, now());
            const stored = await cache.match(keyRequest(k));
            const marker = stored && readMarker(stored);
            await stored?.body?.cancel();
            // A Vary marker is renewed with "since = now" so older variants stop matching.
            if (marker) await putEntry(cache, k, markerResponse(marker.names, now(), 86400));
            else if (stored) await cache.delete(keyRequest(k));
          }
        }
      } catch (e) {
        logFault("invalidate", e, { url: target.href });
      }
    },
  };
}

async function putEntry(cache: Cache, key: string, response: Response): Promise<void> {
  try {
    await cache.put(keyRequest(key), response);
  } catch (e) {
    logFault("cache.put", e, { key });
  }
}

/** What coalesced waiters get: the stored response's head and its body bytes (never the stream itself). */
export function sharedFill(stored: Response, body: Uint8Array | null, cacheKey: string, varyNames: string[]): SharedFill {
  return { status: stored.status, statusText: stored.statusText, headers: new Headers(stored.headers), body, cacheKey, varyNames };
}

/** A fresh Response over a shared fill (each reader gets its own). */
export function responseOf(fill: SharedFill): Response {
  return new Response(fill.body, { status: fill.status, statusText: fill.statusText, headers: fill.headers });
}

/** RFC 9111 §3.2: header fields in a 304 replace the stored ones (framing fields excepted). */
export function mergeNotModified(stored: Headers, fresh: Headers): Headers {
  const merged = new Headers(stored);
  fresh.forEach((value, name) => {
    // Framing fields describe the 304, not the stored body; a Set-Cookie on a 304 is for that client only.
    if (["content-length", "content-encoding", "transfer-encoding", "content-range", "connection", "set-cookie"].includes(name)) return;
    merged.set(name, value);
  });
  return merged;
}
