/**
 * Writing entries (I/O): decide whether an origin response is stored and under which key, store
 * it once its whole body has arrived (with its Vary marker), refresh an entry from a 304, and
 * invalidate a URI in this location. Used by the request path and by background refreshes alike.
 */
import type { SharedFill } from "../coalesce.ts";
import type { Config, Rule } from "../config.ts";
import { buildKey, type CacheKey, keysForUrl } from "../key.ts";
import { removeHopByHop } from "../http/hop-by-hop.ts";
import { logEvent, logFault } from "../log.ts";
import { type StoreDecision, storeDecision } from "../policy.ts";
import { DERIVED_TAG_BYTES, derivedTags, MAX_TAG_BYTES, parseTagHeaders } from "../tags.ts";
import {
  type BodyHead, BUFFER_LIMIT, bodyBytes, type ByteBudget, concat, discard, type EntryMeta, expectedLength, graceOf, keepUntil, readHead, rejoin,
  storableHeaders, type Stored, type StoredEntry,
} from "./entries.ts";
import type { TieredStore } from "./tier.ts";

/** A response judged storable, with everything needed to store it. */
export interface Prepared {
  decision: Extract<StoreDecision, { store: true }>;
  meta: EntryMeta;
  storeKey: string;
}

export type Judged = { prepared: Prepared } | { reason: string; cacheControl: string | null };

/** The outcome of a 304: the refreshed entry to store, or (no longer storable) the response to send. */
export type Revalidated = { stored: true; entry: StoredEntry } | { stored: false; entry: StoredEntry };

/** Local invalidations kept (per isolate) so a fill that began before one is not stored after it. */
const INVALIDATIONS_KEPT = 10_000;

/** Per-isolate writer state: the store, and the local invalidations (by URL identity) entries and fills are checked against. */
interface W {
  config: Config;
  store: TieredStore;
  now: () => number;
  invalidatedAt: Map<string, number>;
  /** Bytes this isolate holds in bodies being read whole. */
  budget: ByteBudget;
}

export type Writer = ReturnType<typeof createWriter>;

export function createWriter(config: Config, store: TieredStore, now: () => number, budget: ByteBudget) {
  const w: W = { config, store, now, invalidatedAt: new Map(), budget };
  return {
    /** Judge an origin response: `{ prepared }` when it is stored, else the reason and the Cache-Control the client should see. */
    prepare: (res: Response, key: CacheKey, rule: Rule | undefined, fillStartedAt: number) => prepare(w, res, key, rule, fillStartedAt),
    /** Store a prepared entry once its whole body has arrived; returns what coalesced waiters may share. */
    fill: (key: CacheKey, p: Prepared, res: Response, body: ReadableStream<Uint8Array> | null) => fill(w, key, p, res, body),
    /** RFC 9111 §4.3.4: a 304 refreshes the stored entry, judged again like a new response. */
    revalidated: (stale: StoredEntry, notModified: Headers, rule: Rule | undefined, fillStartedAt: number) => revalidated(w, stale, notModified, rule, fillStartedAt),
    /** Write a refreshed entry unless an unsafe request invalidated its URI after `since` (a revalidation that raced a POST). */
    async putUnlessInvalidated(url: string, storeKey: string, since: number, entry: StoredEntry): Promise<void> {
      if (invalidatedSince(w, url, since)) return void (await discard(entry));
      if (!(entry.body instanceof ReadableStream)) return put(w, storeKey, entry);
      await w.store.putStream(storeKey, { ...entry, body: null }, entry.body, w.config.maxEntryBytes)
        .catch((e: unknown) => logFault("cache.put", e, { key: storeKey, streamed: true }));
    },
    /** "local-invalidation" when an unsafe request to this URL in this isolate came after the fill began, else null. */
    invalidatedLocally: (url: string, fillStartedAt: number): string | null => (invalidatedSince(w, url, fillStartedAt) ? "local-invalidation" : null),
    /** Drop an entry (purged, or no longer storable), logging a failure. */
    async drop(storeKey: string): Promise<void> {
      await store.delete(storeKey).catch((e: unknown) => logFault("cache.delete", e, { key: storeKey }));
    },
    /** RFC 9111 §4.4 in this location: invalidate the URI and its same-origin Location / Content-Location. */
    invalidateLocally: (target: URL, headers: Headers) => invalidateLocally(w, target, headers),
  };
}

const invalidatedSince = (w: W, url: string, since: number) => (w.invalidatedAt.get(url) ?? -Infinity) >= since;

function decide(w: W, status: number, headers: Headers, rule: Rule | undefined): StoreDecision {
  return storeDecision({
    status, headers, rule, negativeTtl: w.config.negativeTtl, now: w.now(),
    defaultSie: w.config.staleIfError, defaultSwr: w.config.staleWhileRevalidate,
  });
}

async function put(w: W, key: string, value: Stored): Promise<void> {
  try {
    await w.store.put(key, value);
  } catch (e) {
    logFault("cache.put", e, { key });
  }
}

/** Every tag an entry carries: the origin's (validated), the rule's, and those derived from its identity. */
async function entryTags(w: W, headers: Headers, key: CacheKey, ruleTags: readonly string[]): Promise<string[]> {
  const parsed = parseTagHeaders(headers, w.config.tagHeaderNames, MAX_TAG_BYTES - DERIVED_TAG_BYTES);
  if (parsed.dropped.length) logEvent("warn", "tags-dropped", { key: key.key, dropped: parsed.dropped.slice(0, 10) });
  const host = new URL(key.url).host;
  return [...new Set([...parsed.tags, ...ruleTags.map((t) => t.toLowerCase()), ...(await derivedTags(host, key.path, key.url))])];
}

async function prepare(w: W, res: Response, key: CacheKey, rule: Rule | undefined, fillStartedAt: number): Promise<Judged> {
  const decision = decide(w, res.status, res.headers, rule);
  if (!decision.store) return { reason: decision.reason, cacheControl: decision.cacheControl };
  const length = expectedLength(res.headers);
  if (length !== null && Number(length) > w.config.maxEntryBytes) return { reason: "too-large", cacheControl: decision.cacheControl };
  const grace = graceOf(decision, res.headers.has("etag") || res.headers.has("last-modified"));
  const t = w.now();
  const meta: EntryMeta = {
    storedAt: t, fillStartedAt, ttl: decision.ttl, initialAge: decision.initialAge, rule: rule?.name ?? "-",
    tags: await entryTags(w, res.headers, key, rule?.tags ?? []), url: key.url, cacheControl: decision.cacheControl,
    swr: decision.swr, sie: decision.sie, strict: decision.strict, keepUntil: keepUntil(t, decision.ttl + grace),
  };
  return { prepared: { decision, meta, storeKey: key.key } };
}

/**
 * Store a prepared entry once its whole body has arrived (a body that fails, is too large, or is
 * shorter than its length is not stored); return what coalesced waiters may share. Bodies up to
 * BUFFER_LIMIT are read whole (within the isolate's budget); larger ones stream to the store,
 * which verifies their length, and are not shared (waiters fetch for themselves).
 */
async function fill(w: W, key: CacheKey, p: Prepared, res: Response, body: ReadableStream<Uint8Array> | null): Promise<SharedFill | null> {
  if (invalidatedSince(w, key.url, p.meta.fillStartedAt)) {
    await body?.cancel();
    return null; // an unsafe request invalidated this URI while the fill was in flight
  }
  const expected = expectedLength(res.headers);
  const size = expected !== null && /^\d+$/.test(expected) ? Number(expected) : -1;
  let head: BodyHead | null = null;
  try {
    head = body ? await readHead(body, Math.min(BUFFER_LIMIT, w.config.maxEntryBytes), w.budget) : null;
  } catch (e) {
    logFault("origin.body", e, { key: p.storeKey });
    return null;
  }
  if (body && !head) {
    logEvent("warn", "buffer-budget-spent", { key: p.storeKey, heldBytes: w.budget.used });
    return null;
  }
  try {
    if (head && head.size > w.config.maxEntryBytes) {
      await head.reader.cancel();
      return null; // larger than maxEntryBytes: served, not stored
    }
    if (head && !head.done) return await fillStream(w, key, p, res, head, size);
    const bytes = head ? concat(head.chunks, head.size) : new Uint8Array();
    if (size >= 0 && bytes.byteLength !== size) return null; // shorter or longer than its Content-Length
    const entry: StoredEntry = { kind: "entry", status: res.status, headers: entryHeaders(res, p, bytes.byteLength), body: bytes, size: bytes.byteLength, meta: p.meta };
    // Again now that the body is in: an unsafe request may have landed while it streamed.
    if (invalidatedSince(w, key.url, p.meta.fillStartedAt)) return null;
    await put(w, p.storeKey, entry);
    return { entry, storeKey: p.storeKey };
  } finally {
    if (head) w.budget.give(head.size);
  }
}

/** A large body: its head and the rest stream to the store, which checks the length; nothing is kept in memory. */
async function fillStream(w: W, key: CacheKey, p: Prepared, res: Response, head: BodyHead, size: number): Promise<null> {
  const entry: StoredEntry = { kind: "entry", status: res.status, headers: entryHeaders(res, p, size), body: null, size, meta: p.meta };
  try {
    await w.store.putStream(p.storeKey, entry, rejoin(head), w.config.maxEntryBytes);
  } catch (e) {
    logFault("cache.put", e, { key: p.storeKey, streamed: true });
    return null;
  }
  if (invalidatedSince(w, key.url, p.meta.fillStartedAt)) await w.store.delete(p.storeKey);
  return null;
}

/** The headers stored with an entry: the origin's minus what is never stored, with a Date and the stored length. */
export function entryHeaders(res: Response, p: Prepared, size: number): Headers {
  const headers = storableHeaders(res.headers);
  // RFC 9110 §6.6.1: a recipient with a clock adds Date to a response that lacks one (hits then keep it).
  if (!headers.has("date")) headers.set("date", new Date(p.meta.storedAt).toUTCString());
  // The length of what is stored (fetch hands over decoded bodies, so an origin's own length may differ).
  if (size >= 0) headers.set("content-length", String(size));
  else headers.delete("content-length");
  return headers;
}

/**
 * RFC 9111 §4.3.4: the origin answered 304 to our revalidation. The stored response, with the
 * header fields it had from the origin updated by the 304's, is judged again like a new one.
 */
async function revalidated(w: W, stale: StoredEntry, notModified: Headers, rule: Rule | undefined, fillStartedAt: number): Promise<Revalidated> {
  const headers = mergeNotModified(stale.headers, notModified);
  // A small body is read whole (answered and stored again, shared with waiters); a large one stays
  // a stream (answered and streamed back to the store). Either is stored only within today's limit.
  const small = stale.body instanceof Uint8Array || stale.body === null || (stale.size >= 0 && stale.size <= BUFFER_LIMIT);
  const body = small ? await bodyBytes(stale) : stale.body;
  const size = body instanceof Uint8Array ? body.byteLength : stale.size;
  const d = decide(w, stale.status, headers, rule);
  const base = { kind: "entry", status: stale.status, headers, body, size } as const;
  if (!d.store || size > w.config.maxEntryBytes) {
    return { stored: false, entry: { ...base, meta: { ...stale.meta, cacheControl: d.cacheControl } } };
  }
  const t = w.now();
  const meta: EntryMeta = {
    ...stale.meta, storedAt: t, fillStartedAt, ttl: d.ttl, initialAge: d.initialAge, cacheControl: d.cacheControl,
    swr: d.swr, sie: d.sie, strict: d.strict, keepUntil: keepUntil(t, d.ttl + graceOf(d, true)),
  };
  return { stored: true, entry: { ...base, meta } };
}

/**
 * RFC 9111 §4.4: after a successful unsafe request, the target URI and its same-origin Location /
 * Content-Location are invalid here. Every variant of each URL is invalid in this isolate (checked
 * at lookup and before a fill is stored), and the keys that can be enumerated (each language) are
 * deleted from this location's store; variants keyed by cookies or headers in other isolates of
 * the location expire on their own (the purge API reaches them everywhere, through the URL tag).
 */
async function invalidateLocally(w: W, target: URL, headers: Headers): Promise<void> {
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
    for (const u of urls) {
      if (w.invalidatedAt.size >= INVALIDATIONS_KEPT) w.invalidatedAt.clear();
      w.invalidatedAt.set(buildKey(u, new Headers(), w.config.keyOptions).url, w.now());
      await Promise.all(keysForUrl(u, w.config.keyOptions).map((k) => w.store.delete(k)));
    }
  } catch (e) {
    logFault("invalidate", e, { url: target.href });
  }
}

/** RFC 9111 §3.2: header fields in a 304 replace the stored ones (framing fields excepted). */
export function mergeNotModified(stored: Headers, fresh: Headers): Headers {
  const merged = new Headers(stored);
  removeHopByHop(new Headers(fresh)).forEach((value, name) => {
    // Framing fields describe the 304, not the stored body; a Set-Cookie on a 304 is for that client only.
    if (["content-length", "content-encoding", "content-range", "set-cookie"].includes(name)) return;
    // A stored copy kept decoded carries its ETag weak (http/encoding.ts); the origin's strong one names the coded bytes.
    if (name === "etag" && stored.get("etag") === `W/${value}`) return;
    merged.set(name, value);
  });
  return merged;
}
