/**
 * The Cache API tier (I/O): objects as Responses in `caches.open(name)`, our metadata in `x-ec-*`
 * headers. The Cache API is per data centre (workers/runtime-apis/cache): put and delete act where
 * the Worker ran, which is why purges are checked against the tag index at read time, never by
 * deleting entries everywhere.
 *
 * Tags travel in `x-ec-tags`, which we read back, and in `Cache-Tag`, which only Cloudflare's zone
 * purge reads: Cloudflare removes `Cache-Tag` before a Worker sees a response (cache/how-to/
 * purge-cache/purge-by-tags), so it is never relied on here.
 */
import type { EntryMeta, Stored } from "./entries.ts";
import { expiryOf, MAX_ENTRY_LIFETIME_S, REVALIDATE_KEEP_S, UNSTORED_HEADERS } from "./entries.ts";
import type { Tier } from "./tier.ts";

/** Thrown when the Cache API cannot be opened: the store is unavailable, requests go to the origin. */
export class StoreUnavailable extends Error {
  override name = "StoreUnavailable";
}

const META = {
  storedAt: "x-ec-stored-at",
  fillStartedAt: "x-ec-fill",
  ttl: "x-ec-ttl",
  initialAge: "x-ec-age",
  rule: "x-ec-rule",
  tags: "x-ec-tags",
  url: "x-ec-url",
  cacheControl: "x-ec-cc",
  grace: "x-ec-grace",
  keepUntil: "x-ec-keep",
  status: "x-ec-status",
  // The origin's own Cache-Control and Expires, kept apart from the storage lifetime we set.
  originCacheControl: "x-ec-origin-cc",
  originExpires: "x-ec-origin-expires",
  // The Cache API sets Date to the time of the put; the origin's (or the fill's) is kept here.
  date: "x-ec-date",
  // The length of a body put as a stream.
  size: "x-ec-size",
} as const;

/** Statuses a Response cannot carry a body with; stored as 200 with the real status in x-ec-status. */
const NULL_BODY = new Set([204, 205, 304]);

/** The Cache API key request for a key URL (always a bare GET: no client headers reach the lookup). */
export function keyRequest(key: string): Request {
  return new Request(key, { method: "GET" });
}

/** Encode an object as the Response handed to cache.put. */
export function encode(value: Stored, now: number): Response {
  const keep = `public, max-age=${Math.max(1, Math.min(MAX_ENTRY_LIFETIME_S, Math.ceil((expiryOf(value) - now) / 1000)))}`;
  const { meta } = value;
  const headers = new Headers(value.headers);
  headers.set(META.originCacheControl, value.headers.get("cache-control") ?? "");
  const expires = value.headers.get("expires");
  if (expires !== null) headers.set(META.originExpires, expires);
  headers.delete("expires");
  const date = value.headers.get("date");
  if (date !== null) headers.set(META.date, date);
  headers.set("cache-control", keep);
  headers.set(META.storedAt, String(meta.storedAt));
  headers.set(META.fillStartedAt, String(meta.fillStartedAt));
  headers.set(META.ttl, String(meta.ttl));
  headers.set(META.initialAge, String(meta.initialAge));
  headers.set(META.rule, meta.rule);
  headers.set(META.tags, meta.tags.join(","));
  headers.set("cache-tag", meta.tags.join(","));
  headers.set(META.url, meta.url);
  headers.set(META.cacheControl, meta.cacheControl ?? "");
  headers.set(META.grace, `${meta.swr};${meta.sie};${meta.strict ? 1 : 0}`);
  headers.set(META.keepUntil, String(meta.keepUntil));
  // A streamed body is put without a length (chunked); a known one is kept in x-ec-size.
  if (value.body instanceof ReadableStream) {
    headers.delete("content-length");
    if (value.size >= 0) headers.set(META.size, String(value.size));
  } else headers.set("content-length", String(value.size));
  let status = value.status;
  if (NULL_BODY.has(status)) {
    headers.set(META.status, String(status));
    status = 200;
  }
  return new Response(value.body, { status, headers });
}

/** Decode what cache.match returned; null when it is not one of ours (or damaged). */
export function decode(res: Response): Stored | null {
  const h = res.headers;
  const meta = readMeta(h);
  if (!meta) return null;
  const headers = new Headers(h);
  // Entries written before the origin's Cache-Control was kept: the one sent to clients is the closest record.
  const cc = h.get(META.originCacheControl) ?? h.get(META.cacheControl);
  const expires = h.get(META.originExpires);
  const date = h.get(META.date);
  for (const name of Object.values(META)) headers.delete(name);
  // What the Cache API adds on match (Age, CF-Cache-Status) describes its own copy, not the origin's response.
  for (const name of UNSTORED_HEADERS) headers.delete(name);
  headers.delete("cache-tag");
  if (cc) headers.set("cache-control", cc);
  else headers.delete("cache-control");
  if (expires !== null) headers.set("expires", expires);
  if (date !== null) headers.set("date", date);
  const status = Number(h.get(META.status)) || res.status;
  const streamed = h.get("content-length") === null ? h.get(META.size) : null;
  const length = streamed ?? h.get("content-length");
  const size = length !== null && /^\d+$/.test(length) ? Number(length) : -1;
  // A body put as a stream: its length comes back from x-ec-size.
  if (streamed !== null && size >= 0 && !NULL_BODY.has(status)) headers.set("content-length", String(size));
  return { kind: "entry", status, headers, body: NULL_BODY.has(status) ? null : res.body, size: NULL_BODY.has(status) ? 0 : size, meta };
}

function readMeta(h: Headers): EntryMeta | null {
  const storedAt = Number(h.get(META.storedAt));
  const fillStartedAt = Number(h.get(META.fillStartedAt));
  const ttl = Number(h.get(META.ttl));
  const initialAge = Number(h.get(META.initialAge) ?? "0");
  if (!(storedAt > 0) || !(fillStartedAt > 0) || !Number.isFinite(ttl) || !Number.isFinite(initialAge)) return null;
  // Entries written before x-ec-tags: the tags are in Cache-Tag (kept by miniflare, not by Cloudflare).
  const tags = h.get(META.tags) ?? h.get("cache-tag");
  const cc = h.get(META.cacheControl);
  const [swr = 0, sie = 0, strict = 1] = (h.get(META.grace) ?? "0;0;1").split(";").map(Number);
  const keep = Number(h.get(META.keepUntil));
  return {
    storedAt, fillStartedAt, ttl, initialAge,
    rule: h.get(META.rule) ?? "-",
    tags: tags ? tags.split(",") : [],
    url: h.get(META.url) ?? "",
    cacheControl: cc === null || cc === "" ? null : cc,
    swr: Number.isFinite(swr) ? swr : 0,
    sie: Number.isFinite(sie) ? sie : 0,
    strict: strict !== 0,
    keepUntil: keep > 0 ? keep : storedAt + (ttl + Math.max(swr, sie, REVALIDATE_KEEP_S)) * 1000,
  };
}

/**
 * The body, failing (so the put fails) when it holds more than `limit` bytes or, with `size` ≥ 0,
 * other than `size` bytes: a truncated body is never stored. The stream errors rather than closes
 * on a short body: a put whose body closes early may still commit what it got (miniflare does,
 * even through a FixedLengthStream), one whose body errors does not.
 */
function verifyLength(body: ReadableStream<Uint8Array>, size: number, limit: number): ReadableStream<Uint8Array> {
  const max = size >= 0 ? size : limit;
  let seen = 0;
  return body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > max) controller.error(new Error(size >= 0 ? `body longer than its ${size} bytes` : `body longer than ${limit} bytes`));
      else controller.enqueue(chunk);
    },
    flush(controller) {
      if (size >= 0 && seen !== size) controller.error(new Error(`body of ${seen} bytes, ${size} expected`));
    },
  }));
}

/**
 * Does the Cache API keep what it is given here? It silently does nothing in the dashboard editor
 * and playground, and is unavailable behind Cloudflare Access (workers/runtime-apis/cache): then
 * every request is a MISS with no other sign. A put of a small object followed by a match tells.
 */
export type CacheApiHealth = "ok" | "no-op" | "unavailable";

export async function probeCacheApi(name: string): Promise<CacheApiHealth> {
  let cache: Cache;
  try {
    cache = await caches.open(name);
  } catch {
    return "unavailable";
  }
  const key = keyRequest(`https://edge-cache.invalid/__probe/${crypto.randomUUID()}`);
  try {
    await cache.put(key, new Response("probe", { headers: { "cache-control": "public, max-age=60" } }));
    const found = await cache.match(key);
    await found?.body?.cancel();
    await cache.delete(key).catch(() => false);
    return found ? "ok" : "no-op";
  } catch {
    return "unavailable";
  }
}

/** The Cache API tier over `caches.open(name)`, opened on first use (a failed open is retried next time). */
export function cacheApiTier(name: string, now: () => number): Tier {
  let opening: Promise<Cache> | undefined;
  const open = () => (opening ??= caches.open(name).catch((e: unknown) => {
    opening = undefined;
    throw new StoreUnavailable(`caches.open failed: ${e instanceof Error ? e.message : String(e)}`);
  }));
  return {
    name: "cache-api",
    async get(key) {
      const res = await (await open()).match(keyRequest(key));
      if (!res) return null;
      const value = decode(res);
      if (!value || expiryOf(value) <= now()) {
        await res.body?.cancel();
        return null;
      }
      return value;
    },
    async put(key, value) {
      await (await open()).put(keyRequest(key), encode(value, now()));
    },
    async putStream(key, value, body, limit) {
      const cache = await open();
      const counted = verifyLength(body, value.size, limit);
      try {
        await cache.put(keyRequest(key), encode({ ...value, body: counted }, now()));
      } catch (e) {
        // An errored body is not committed; an older entry under the key is stale now: remove it.
        await cache.delete(keyRequest(key)).catch(() => false);
        throw e;
      }
    },
    async delete(key) {
      return (await open()).delete(keyRequest(key));
    },
  };
}
