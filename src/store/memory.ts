/**
 * A small in-isolate tier in front of the Cache API (I/O-free, per isolate): recently stored or
 * matched objects, by key, for at most `ttlMs`, bounded in bytes, least recently used evicted first.
 *
 * It changes no decision: freshness comes from each entry's own metadata and the purge check
 * runs on every hit, whichever tier answered. What it trades: a local invalidation in another
 * isolate of the same location (an unsafe method, a URL purge's cache.delete) reaches this
 * isolate's copy only when it expires (`ttlMs`, 1 s by default). Tag purges are exact.
 */

interface Held {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: Uint8Array;
  at: number;
  /** What it costs against maxBytes: body, headers and a fixed overhead (empty bodies are not free). */
  size: number;
}

/** Bookkeeping cost of one held object beyond its body and headers. */
const OBJECT_OVERHEAD = 256;

export interface MemoryOptions {
  ttlMs: number;
  maxBytes: number;
  /** Objects larger than this are never held. */
  maxObjectBytes: number;
  now: () => number;
}

/** Wrap a Cache so match/put/delete go through the memory tier. maxBytes 0: the cache itself. */
export function withMemoryTier(cache: Cache, opts: MemoryOptions): Cache {
  if (opts.maxBytes <= 0 || opts.ttlMs <= 0) return cache;
  const held = new Map<string, Held>();
  let bytes = 0;

  const forget = (key: string) => {
    const h = held.get(key);
    if (h) {
      bytes -= h.size;
      held.delete(key);
    }
  };
  const remember = (key: string, res: Response, body: Uint8Array) => {
    if (body.byteLength > opts.maxObjectBytes) return;
    forget(key);
    const headers = [...res.headers];
    const size = body.byteLength + OBJECT_OVERHEAD + key.length + headers.reduce((n, [k, v]) => n + k.length + v.length, 0);
    held.set(key, { status: res.status, statusText: res.statusText, headers, body, at: opts.now(), size });
    bytes += size;
    for (const k of held.keys()) {
      if (bytes <= opts.maxBytes) break;
      forget(k);
    }
  };
  const keyOf = (req: RequestInfo | URL) => (typeof req === "string" ? req : req instanceof URL ? req.href : req.url);

  const tier = {
    async match(request: RequestInfo | URL, options?: CacheQueryOptions): Promise<Response | undefined> {
      const key = keyOf(request);
      const h = held.get(key);
      if (h && opts.now() - h.at < opts.ttlMs) {
        // Most recently used last.
        held.delete(key);
        held.set(key, h);
        return new Response(h.body.byteLength ? h.body.slice() : "", { status: h.status, statusText: h.statusText, headers: h.headers });
      }
      if (h) forget(key);
      const res = await cache.match(request, options);
      if (!res) return undefined;
      const length = Number(res.headers.get("content-length") ?? "-1");
      if (length < 0 || length > opts.maxObjectBytes) return res;
      const body = new Uint8Array(await res.arrayBuffer());
      remember(key, res, body);
      return new Response(body.byteLength ? body.slice() : "", { status: res.status, statusText: res.statusText, headers: res.headers });
    },
    async put(request: RequestInfo | URL, response: Response): Promise<void> {
      const key = keyOf(request);
      const length = Number(response.headers.get("content-length") ?? "-1");
      if (response.body && length >= 0 && length <= opts.maxObjectBytes) {
        const copy = response.clone();
        await cache.put(request, response);
        remember(key, copy, new Uint8Array(await copy.arrayBuffer()));
        return;
      }
      forget(key);
      await cache.put(request, response);
    },
    async delete(request: RequestInfo | URL, options?: CacheQueryOptions): Promise<boolean> {
      forget(keyOf(request));
      return cache.delete(request, options);
    },
  };
  return tier as unknown as Cache;
}
