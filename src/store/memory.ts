/**
 * The in-isolate memory tier (per isolate, no I/O): recently stored or read objects, by key, held
 * for at most `ttlMs`, bounded in bytes, least recently used evicted first. It holds the objects
 * themselves (bytes and parsed metadata), so a hit costs no parsing and no copy.
 *
 * It changes no decision: freshness comes from each entry's own metadata and the purge check runs
 * on every hit, whichever tier answered. What it trades: a local invalidation in another isolate of
 * the same location (an unsafe method, a URL purge's delete) reaches this isolate's copy only when
 * it expires (`ttlMs`, 1 s by default). Tag purges are exact.
 */
import { expiryOf, type Stored } from "./entries.ts";
import type { Tier } from "./tier.ts";

/** Bookkeeping cost of one held object beyond its body and headers. */
const OBJECT_OVERHEAD = 256;

export interface MemoryOptions {
  ttlMs: number;
  maxBytes: number;
  /** Objects with larger bodies are never held. */
  maxObjectBytes: number;
  now: () => number;
}

interface Held {
  value: Stored;
  until: number;
  size: number;
}

/** What an object costs against maxBytes: body, headers and a fixed overhead (empty bodies are not free). */
function costOf(key: string, value: Stored): number {
  let headers = 0;
  value.headers.forEach((v, k) => { headers += k.length + v.length; });
  return OBJECT_OVERHEAD + key.length + headers + value.meta.tags.join().length + Math.max(0, value.size);
}

/** A memory tier; null when it is configured off (ttl or size 0). */
export function memoryTier(opts: MemoryOptions): Tier | null {
  if (opts.maxBytes <= 0 || opts.ttlMs <= 0) return null;
  const held = new Map<string, Held>();
  let bytes = 0;

  const forget = (key: string): boolean => {
    const h = held.get(key);
    if (!h) return false;
    bytes -= h.size;
    held.delete(key);
    return true;
  };

  return {
    name: "memory",
    maxBodyBytes: opts.maxObjectBytes,
    get(key) {
      const h = held.get(key);
      if (!h) return Promise.resolve(null);
      if (opts.now() >= h.until) {
        forget(key);
        return Promise.resolve(null);
      }
      // Most recently used last.
      held.delete(key);
      held.set(key, h);
      return Promise.resolve(h.value);
    },
    put(key, value) {
      forget(key);
      if (!(value.body instanceof Uint8Array || value.body === null) || value.size > opts.maxObjectBytes) {
        return Promise.resolve();
      }
      const until = Math.min(opts.now() + opts.ttlMs, expiryOf(value));
      const size = costOf(key, value);
      if (size > opts.maxBytes) return Promise.resolve();
      held.set(key, { value, until, size });
      bytes += size;
      for (const k of held.keys()) {
        if (bytes <= opts.maxBytes) break;
        forget(k);
      }
      return Promise.resolve();
    },
    delete(key) {
      return Promise.resolve(forget(key));
    },
  };
}
