/**
 * What the cache stores, independent of where (pure): an entry is an origin response (status,
 * headers as the origin sent them minus what is never stored, the whole body) plus our metadata.
 *
 * Freshness is decided from the metadata (so it is testable and stale copies can be served later);
 * a tier's own lifetime only bounds how long it keeps the object (`keepUntil`).
 */
import { removeHopByHop } from "../http/hop-by-hop.ts";

export interface EntryMeta {
  /** ms since epoch when the response was received from the origin. */
  storedAt: number;
  /** ms since epoch when the origin request was sent: purges at or after this invalidate the entry. */
  fillStartedAt: number;
  /** Seconds the entry is fresh, counted from storedAt. */
  ttl: number;
  /** Age the response already had when received. */
  initialAge: number;
  /** Name of the rule that matched, or "-". */
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
  /** ms since epoch until which tiers keep it (freshness plus any stale or revalidation use). */
  keepUntil: number;
}

/** A stored response. Treat as immutable: one object may be handed to several requests at once. */
export interface StoredEntry {
  kind: "entry";
  status: number;
  /** The origin's headers (its own Cache-Control and Expires included), minus UNSTORED_HEADERS. */
  headers: Headers;
  /** The whole body: bytes when held in memory, a stream when read from a tier that streams. */
  body: Uint8Array | ReadableStream<Uint8Array> | null;
  /** Body length in bytes, -1 when unknown. */
  size: number;
  meta: EntryMeta;
}

/** What a tier holds. */
export type Stored = StoredEntry;

/** Headers never stored: per-user, or describing another cache's state (hop-by-hop ones go too, see storableHeaders). */
export const UNSTORED_HEADERS = ["set-cookie", "age", "cf-cache-status", "x-cache", "cache-status"];

/** Entries with validators are kept this long past freshness so they can be revalidated with a 304. */
export const REVALIDATE_KEEP_S = 86400;
/** Longest any tier keeps an object (the Cache API's own cap is a year). */
export const MAX_ENTRY_LIFETIME_S = 366 * 86400;

/** The headers worth storing from an origin response. */
export function storableHeaders(from: Headers): Headers {
  const headers = removeHopByHop(new Headers(from));
  for (const name of UNSTORED_HEADERS) headers.delete(name);
  return headers;
}

/**
 * Seconds the entry may be kept after it stops being fresh: long enough for any stale use, and a
 * minute at least, so a just-expired entry that must not be served stale still turns an
 * unreachable origin into RFC 9111 §4.2.4's 504 rather than a plain 502.
 */
export function graceOf(meta: Pick<EntryMeta, "swr" | "sie">, revalidatable: boolean): number {
  return Math.max(meta.swr, meta.sie, revalidatable ? REVALIDATE_KEEP_S : 0, STALE_KEEP_MIN_S);
}

/** Shortest time an entry is kept past freshness. */
export const STALE_KEEP_MIN_S = 60;

/** ms epoch until which tiers keep the object. */
export function expiryOf(value: Stored): number {
  return value.meta.keepUntil;
}

/** ms epoch until which an object stored at `now` and kept `seconds` stays (capped at a year). */
export function keepUntil(now: number, seconds: number): number {
  return now + Math.max(1, Math.min(MAX_ENTRY_LIFETIME_S, Math.ceil(seconds))) * 1000;
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
 * Bytes an isolate holds at once in bodies it reads whole (fills, revalidations, pre-reads): an
 * isolate has 128 MB (workers/platform/limits), and a few concurrent large reads must not exhaust it.
 */
export const ISOLATE_BUFFER_BYTES = 32 * 1024 * 1024;
/** Bodies up to this size are read whole (and kept in memory tiers, shared with waiters); larger ones stream to the store. */
export const BUFFER_LIMIT = 1024 * 1024;

/** A per-isolate allowance of bytes held in memory at once. */
export interface ByteBudget {
  /** Reserve `n` bytes; false when that would exceed the allowance (nothing is reserved then). */
  take(n: number): boolean;
  give(n: number): void;
  readonly used: number;
}

export function byteBudget(limit: number): ByteBudget {
  let used = 0;
  return {
    take(n) {
      if (used + n > limit) return false;
      used += n;
      return true;
    },
    give(n) {
      used = Math.max(0, used - n);
    },
    get used() {
      return used;
    },
  };
}

/** The first bytes of a body, up to `limit`: all of it (`done`), or a head and the reader for the rest. */
export interface BodyHead {
  chunks: Uint8Array[];
  size: number;
  done: boolean;
  reader: ReadableStreamDefaultReader<Uint8Array>;
}

/** Read at most `limit` bytes (a chunk may overshoot it), reserving them in `budget`; null when the budget is spent (the body is cancelled). */
export async function readHead(stream: ReadableStream<Uint8Array>, limit: number, budget: ByteBudget): Promise<BodyHead | null> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size <= limit) {
    const { done, value } = await reader.read();
    if (done) return { chunks, size, done: true, reader };
    if (!budget.take(value.byteLength)) {
      budget.give(size);
      await reader.cancel();
      return null;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return { chunks, size, done: false, reader };
}

/** Join chunks into one array (no copy for a single chunk). */
export function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** A stream of a body's head followed by the rest of it. */
export function rejoin(head: BodyHead): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i < head.chunks.length) return controller.enqueue(head.chunks[i++]!);
      const { done, value } = await head.reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => head.reader.cancel(reason),
  });
}

/**
 * Read a body completely before it is stored. Returns null when it is larger than `limit` or shorter
 * or longer than its Content-Length; rejects when the stream fails. Only a whole body is ever stored:
 * a connection that drops mid-body must not leave a truncated page in the cache.
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
  return concat(chunks, size);
}

/** The entry's body as bytes (a streamed body is read; bytes are returned as they are). */
export async function bodyBytes(entry: StoredEntry): Promise<Uint8Array> {
  if (entry.body === null) return new Uint8Array();
  if (entry.body instanceof Uint8Array) return entry.body;
  return new Uint8Array(await new Response(entry.body).arrayBuffer());
}

/** Release a streamed body nobody will read (an entry's, a delivery's, a fragment's). */
export async function discard(holder: { body: Uint8Array | ReadableStream<Uint8Array> | null } | null | undefined): Promise<void> {
  if (holder?.body instanceof ReadableStream) await holder.body.cancel().catch(() => undefined);
}

/**
 * The length a fetched body must have, or null when it cannot be known: fetch decodes a
 * Content-Encoding transparently, so the origin's Content-Length then counts other bytes.
 */
export function expectedLength(headers: Headers): string | null {
  return headers.has("content-encoding") ? null : headers.get("content-length");
}
