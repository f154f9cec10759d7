/**
 * Entries in the Cache API (I/O). An entry is the origin response plus our metadata in
 * `x-ec-*` headers: when it was stored, how long it is fresh, the rule and tags, and the
 * Cache-Control the client should see. Freshness is decided by us from that metadata (so it is
 * testable and can serve stale later); the Cache API lifetime only bounds how long it is kept.
 *
 * Note the Cache API is per data centre (see shared/PLATFORM.md): put/delete act where the
 * Worker ran, which is why invalidation is checked against KV at read time (store/tag-index.ts).
 */

import { MAX_ENTRY_LIFETIME_S } from "./tag-index.ts";

export interface EntryMeta {
  /** ms since epoch when the response was received from the origin. */
  storedAt: number;
  /** ms since epoch when the origin request was sent: purges at or after this invalidate the entry. */
  fillStartedAt: number;
  /** Seconds the entry is fresh, counted from storedAt. */
  ttl: number;
  /** Age the response already had when received. */
  initialAge: number;
  /** Name of the rule that matched, or "-" */
  rule: string;
  /** Tags (lower case) for purge. */
  tags: string[];
  /** Normalised URL identity (scheme://host/path?query). */
  url: string;
  /** Cache-Control the client sees, or null to send none. */
  cacheControl: string | null;
  /** Seconds past ttl it may be served while refreshed in the background (RFC 5861 §3). */
  swr: number;
  /** Seconds past ttl it may be served when the origin fails (RFC 5861 §4). */
  sie: number;
  /** Never serve stale without successful revalidation (must-revalidate and kin). */
  strict: boolean;
}

const META = {
  storedAt: "x-ec-stored-at",
  fillStartedAt: "x-ec-fill",
  ttl: "x-ec-ttl",
  initialAge: "x-ec-age",
  rule: "x-ec-rule",
  // Cache-Tag itself holds the tags, so Cloudflare's zone purge by tag reaches the entry.
  tags: "cache-tag",
  url: "x-ec-url",
  cacheControl: "x-ec-cc",
  grace: "x-ec-grace",
  marker: "x-ec-vary",
  since: "x-ec-since",
  // The origin's own Cache-Control and Expires, kept apart from the Cache API lifetime we set:
  // a later 304 is judged against what the origin said, never against our storage headers.
  originCacheControl: "x-ec-origin-cc",
  originExpires: "x-ec-origin-expires",
} as const;

/** Headers never stored: hop-by-hop (RFC 9110 §7.6.1), per-user, or describing another cache's state. */
const UNSTORED_HEADERS = [
  "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
  "set-cookie", "age", "cf-cache-status", "x-cache", "cache-status",
];

/**
 * Build the object handed to cache.put(): response headers minus unstored ones, plus metadata.
 * `keepFor` (seconds) is how long the Cache API keeps it, at least the freshness lifetime.
 */
export function toStored(response: Response, body: BodyInit | null, meta: EntryMeta, keepFor: number): Response {
  const headers = new Headers(response.headers);
  for (const name of UNSTORED_HEADERS) headers.delete(name);
  headers.set(META.storedAt, String(meta.storedAt));
  headers.set(META.fillStartedAt, String(meta.fillStartedAt));
  headers.set(META.ttl, String(meta.ttl));
  headers.set(META.initialAge, String(meta.initialAge));
  headers.set(META.rule, meta.rule);
  headers.set(META.tags, meta.tags.join(","));
  headers.set(META.url, meta.url);
  headers.set(META.cacheControl, meta.cacheControl ?? "");
  headers.set(META.grace, `${meta.swr};${meta.sie};${meta.strict ? 1 : 0}`);
  headers.set(META.originCacheControl, response.headers.get("cache-control") ?? "");
  const expires = response.headers.get("expires");
  if (expires !== null) headers.set(META.originExpires, expires);
  // The Cache API's own lifetime (CDN semantics); the client's Cache-Control travels in x-ec-cc.
  headers.set("cache-control", `public, max-age=${Math.max(1, Math.min(MAX_ENTRY_LIFETIME_S, Math.ceil(keepFor)))}`);
  headers.delete("expires");
  // The length of what is stored (fetch hands over decoded bodies, so an origin's own length may differ).
  if (body instanceof Uint8Array) headers.set("content-length", String(body.byteLength));
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/** Read the metadata back; null when the object is not one of ours (or damaged). */
export function readMeta(stored: Response): EntryMeta | null {
  const h = stored.headers;
  const storedAt = Number(h.get(META.storedAt));
  const fillStartedAt = Number(h.get(META.fillStartedAt));
  const ttl = Number(h.get(META.ttl));
  const initialAge = Number(h.get(META.initialAge) ?? "0");
  if (!Number.isFinite(storedAt) || storedAt <= 0 || !Number.isFinite(fillStartedAt) || fillStartedAt <= 0 || !Number.isFinite(ttl) || !Number.isFinite(initialAge)) return null;
  const tags = h.get(META.tags);
  const cc = h.get(META.cacheControl);
  const [swr, sie, strict] = (h.get(META.grace) ?? "0;0;1").split(";").map(Number);
  return {
    storedAt,
    fillStartedAt,
    ttl,
    initialAge,
    rule: h.get(META.rule) ?? "-",
    tags: tags ? tags.split(",") : [],
    url: h.get(META.url) ?? "",
    cacheControl: cc === null || cc === "" ? null : cc,
    swr: Number.isFinite(swr) ? swr! : 0,
    sie: Number.isFinite(sie) ? sie! : 0,
    strict: strict !== 0,
  };
}

/** Seconds the entry may be kept after it stops being fresh: long enough for any stale use. */
export function graceOf(meta: Pick<EntryMeta, "swr" | "sie">, revalidatable: boolean): number {
  return Math.max(meta.swr, meta.sie, revalidatable ? REVALIDATE_KEEP_S : 0);
}

/** Entries with validators are kept this long past freshness so they can be revalidated with a 304. */
export const REVALIDATE_KEEP_S = 86400;

/**
 * A Vary marker, stored under the base key of a response that varies on request headers the key
 * does not already hold: it names those headers, and the response itself lives under a variant key.
 * `since`: variants filled before it are invalid (set when an unsafe method invalidates the URL).
 */
export function markerResponse(names: readonly string[], since: number, keepFor: number): Response {
  return new Response("", {
    status: 200,
    headers: {
      [META.marker]: names.join(","),
      [META.since]: String(since),
      "cache-control": `public, max-age=${Math.max(1, Math.min(MAX_ENTRY_LIFETIME_S, Math.ceil(keepFor)))}`,
    },
  });
}

/** The header names of a Vary marker, or null when `stored` is an entry, not a marker. */
export function readMarker(stored: Response): { names: string[]; since: number } | null {
  const names = stored.headers.get(META.marker);
  if (names === null) return null;
  return { names: names.split(",").filter(Boolean), since: Number(stored.headers.get(META.since) ?? "0") || 0 };
}

/** Seconds since the entry was received plus the age it arrived with (RFC 9111 §4.2.3, simplified: no transit delay). */
export function currentAge(meta: EntryMeta, now: number): number {
  return meta.initialAge + Math.max(0, Math.floor((now - meta.storedAt) / 1000));
}

/** Seconds of freshness left (negative once stale). */
export function ttlLeft(meta: EntryMeta, now: number): number {
  return meta.ttl - Math.max(0, Math.floor((now - meta.storedAt) / 1000));
}

/**
 * Read a body completely before it is stored. Returns null when it is larger than `limit` or shorter
 * or longer than its Content-Length; rejects when the stream fails. Only a whole body is ever stored:
 * a connection that drops mid-body must not leave a truncated page in the cache (miniflare's put()
 * accepts a prematurely ended stream without complaint).
 */
export async function readWhole(stream: ReadableStream<Uint8Array>, limit: number, contentLength: string | null): Promise<Uint8Array | null> {
  const expected = contentLength !== null && /^\d+$/.test(contentLength) ? Number(contentLength) : null;
  if (expected !== null && expected > limit) {
    await stream.cancel();
    return null;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  if (expected !== null && size !== expected) return null;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** The stored response's headers as the origin sent them (for judging a revalidation). */
export function originHeadersOf(stored: Response): Headers {
  const headers = new Headers(stored.headers);
  // Entries written before the origin's Cache-Control was kept: the Cache-Control sent to clients
  // (the origin's, or the rule's when the rule applied) is the closest record of it.
  const cc = headers.get(META.originCacheControl) ?? headers.get(META.cacheControl);
  const expires = headers.get(META.originExpires);
  for (const name of Object.values(META)) headers.delete(name);
  if (cc) headers.set("cache-control", cc);
  else headers.delete("cache-control");
  if (expires !== null) headers.set("expires", expires);
  return headers;
}

/** The stored object as the client should see it: metadata removed, Cache-Control restored. */
export function fromStored(stored: Response, meta: EntryMeta): Response {
  const headers = new Headers(stored.headers);
  const expires = headers.get(META.originExpires);
  for (const name of Object.values(META)) headers.delete(name);
  if (expires !== null) headers.set("expires", expires);
  headers.delete("cf-cache-status");
  if (meta.cacheControl === null) headers.delete("cache-control");
  else headers.set("cache-control", meta.cacheControl);
  return new Response(stored.body, { status: stored.status, statusText: stored.statusText, headers });
}

/** The Cache API key request for a key URL (always a bare GET: no client headers reach the lookup). */
export function keyRequest(key: string): Request {
  return new Request(key, { method: "GET" });
}

/**
 * The length a fetched body must have, or null when it cannot be known: fetch decodes a
 * Content-Encoding transparently, so the origin's Content-Length then counts other bytes.
 */
export function expectedLength(headers: Headers): string | null {
  return headers.has("content-encoding") ? null : headers.get("content-length");
}
