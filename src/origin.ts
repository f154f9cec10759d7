/**
 * Talking to the origin (I/O): build the forwarded request, fetch it with a timeout, fail over.
 *
 * Ways to reach the origin, in order: the configured origin URLs (primary first, then fallbacks),
 * a service binding `ORIGIN` (the demo origin in `npm start`, or another Worker), or the
 * request's own URL (a Worker on a route in front of its origin: same-zone subrequests go there).
 *
 * Health (per isolate, like a Varnish probe without the probe): an origin that fails to answer
 * (network error, timeout) is skipped for `cooldownMs`; so is one that answers 5xx three times in
 * a row. Idempotent requests (GET/HEAD) move on to the next origin; others get one attempt.
 */
import { removeHopByHop } from "./http/hop-by-hop.ts";
import type { CacheKey } from "./key.ts";

/** Headers we set ourselves (or never pass on), besides the hop-by-hop ones (RFC 9110 §7.6.1). */
const NOT_FORWARDED = ["proxy-authorization", "host", "cookie"];

/**
 * Set on every origin request. With no ORIGIN_URL the worker fetches the request's own URL: on a
 * route that reaches the origin, but on a Custom Domain or workers.dev it reaches the worker again
 * (workers/observability/errors: 1019 after 16 hops); the marked request is recognised and refused.
 */
export const LOOP_HEADER = "x-edge-cache-hop";

/** Consecutive 5xx answers that mark an origin unhealthy. */
export const UNHEALTHY_AFTER_5XX = 3;

export interface OriginTarget {
  /** Service binding to the origin, if configured. */
  fetcher?: Fetcher | undefined;
  /** Base URLs in order of preference (empty: the request's own scheme and host). */
  baseUrls: readonly string[];
}

/** What to send, independent of which origin it goes to. */
export interface OriginRequest {
  method: string;
  pathAndQuery: string;
  publicUrl: URL;
  headers: Headers;
  body: ReadableStream | null;
  /** Header that carries a request id generated for each attempt ("" or absent: none). */
  requestIdHeader?: string;
}

/** The URL to fetch: base URL (with its path prefix) + path and query, or the public URL's origin. */
export function originUrl(base: string, publicUrl: URL, pathAndQuery: string): string {
  if (base === "") return `${publicUrl.protocol}//${publicUrl.host}${pathAndQuery}`;
  return `${base.endsWith("/") ? base.slice(0, -1) : base}${pathAndQuery}`;
}

/** What a cache fill tells the origin in place of the client's own headers. */
/**
 * What a request on an ESI rule tells the origin (Edge Architecture Specification 1.0): this
 * surrogate processes ESI, so the page may contain `<esi:include>` (the Django package's
 * `{% edge_include %}` looks for it). Never taken from the client.
 */
export const SURROGATE_CAPABILITY = 'edge-cache="ESI/1.0"';

export interface FillHeaders {
  userAgent: string;
  accept: string;
  forwardedHeaders: boolean;
  requestIdHeader: string;
}

/**
 * The origin request of a cacheable request: a function of its key alone (plus constants the
 * worker sets), so two requests that share an entry send the same request and nothing a client
 * sends can shape a page stored for everyone. GET, the normalised path and query, the folded
 * language, the keyed cookies and headers, the device class, fixed User-Agent and Accept, and the
 * public host and scheme. No client IP: the fill is made for everyone who shares the entry (on a
 * same-zone route Cloudflare derives CF-Connecting-IP from x-real-ip, which is set to 0.0.0.0).
 */
export function fillRequest(key: CacheKey, o: FillHeaders, esi = false): OriginRequest {
  const headers = new Headers({ "user-agent": o.userAgent, accept: o.accept, "accept-encoding": "gzip, br", "x-real-ip": "0.0.0.0" });
  if (esi) headers.set("surrogate-capability", SURROGATE_CAPABILITY);
  if (key.language !== undefined) headers.set("accept-language", key.language);
  if (key.cookies.length) headers.set("cookie", key.cookies.map(([n, v]) => `${n}=${v}`).join("; "));
  for (const [name, value] of key.headers) headers.set(name, value);
  if (key.device) headers.set("cf-device-type", key.device);
  if (o.forwardedHeaders) {
    headers.set("x-forwarded-host", key.host);
    headers.set("x-forwarded-proto", key.scheme.slice(0, -1));
  }
  const pathAndQuery = key.query ? `${key.path}?${key.query}` : key.path;
  return { method: "GET", pathAndQuery, publicUrl: new URL(`${key.scheme}//${key.host}`), headers, body: null, requestIdHeader: o.requestIdHeader };
}

export interface PassOptions {
  /** The public URL the client asked for (scheme/host for X-Forwarded-*, and for route mode). */
  publicUrl: URL;
  method: string;
  /** Cookie header after analytics cookies were removed (null: send none). */
  cookie: string | null;
  /** Lower-case names of client headers never forwarded (poisoning vectors). */
  strip: readonly string[];
  forwardedHeaders: boolean;
  clientIp: string | null;
  body: ReadableStream | null;
  /** The rule assembles ESI: say so (Surrogate-Capability). */
  esi?: boolean;
}

/** The origin request of a passed (bypassed) request: as the client sent it, minus hop-by-hop, analytics cookies and poisoning headers. */
export function passRequest(incoming: Headers, opts: PassOptions): OriginRequest {
  const headers = removeHopByHop(new Headers(incoming));
  for (const name of NOT_FORWARDED) headers.delete(name);
  for (const name of opts.strip) headers.delete(name);
  if (opts.cookie !== null) headers.set("cookie", opts.cookie);
  // Only we say whether ESI is processed: a client's claim would have the origin send markup raw.
  headers.delete("surrogate-capability");
  if (opts.esi) headers.set("surrogate-capability", SURROGATE_CAPABILITY);
  if (opts.forwardedHeaders) {
    headers.set("x-forwarded-host", opts.publicUrl.host);
    headers.set("x-forwarded-proto", opts.publicUrl.protocol.slice(0, -1));
    if (opts.clientIp) headers.set("x-forwarded-for", opts.clientIp);
  }
  // A body on GET/HEAD ("fat GET") is never forwarded.
  const hasBody = opts.method !== "GET" && opts.method !== "HEAD";
  const pathAndQuery = opts.publicUrl.pathname + opts.publicUrl.search;
  return { method: opts.method, pathAndQuery, publicUrl: opts.publicUrl, headers, body: hasBody ? opts.body : null };
}

export type OriginResult =
  | { ok: true; response: Response; ms: number; origin: string }
  | { ok: false; kind: "timeout" | "network"; message: string; ms: number };

export interface OriginClient {
  fetch(req: OriginRequest, extraHeaders?: Record<string, string>): Promise<OriginResult>;
  /** Health as seen by this isolate (for explain / logs). */
  health(): Record<string, { down: boolean; failures: number }>;
  /** Every origin is in its cool-down: known unhealthy, not worth waiting for when something stale can answer. */
  allDown(): boolean;
}

export function createOriginClient(target: OriginTarget, timeoutMs: number, cooldownMs: number, now: () => number): OriginClient {
  const bases = target.fetcher ? ["(service binding)"] : target.baseUrls.length ? [...target.baseUrls] : [""];
  const state = new Map<string, { downUntil: number; fails5xx: number }>(bases.map((b) => [b, { downUntil: 0, fails5xx: 0 }]));

  function order(): string[] {
    const t = now();
    const up = bases.filter((b) => state.get(b)!.downUntil <= t);
    // Nothing healthy: try them all anyway, primary first, rather than fail without asking.
    return up.length ? up : bases;
  }

  async function attempt(base: string, req: OriginRequest, extra: Record<string, string>): Promise<OriginResult> {
    const started = now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error("origin timeout")), timeoutMs);
    const headers = new Headers(req.headers);
    for (const [k, v] of Object.entries(extra)) headers.set(k, v);
    if (req.requestIdHeader) headers.set(req.requestIdHeader, crypto.randomUUID());
    // Our own subrequests are marked, so one that comes back to this worker is recognised (loop).
    headers.set(LOOP_HEADER, "1");
    const request = new Request(originUrl(target.fetcher ? "" : base, req.publicUrl, req.pathAndQuery), {
      method: req.method,
      headers,
      body: req.body,
      // A refill must come from the origin, never from the zone's cache (workers/runtime-apis/fetch:
      // "no-store bypasses the use of Cloudflare's caches"): a purge would otherwise be refilled with
      // the zone's old copy. The runtime adds Cache-Control / Pragma: no-cache to the request.
      cache: "no-store",
      // Redirects are the client's business: following one would cache the target under the source's key.
      redirect: "manual",
      signal: controller.signal,
    });
    try {
      const response = target.fetcher ? await target.fetcher.fetch(request) : await fetch(request);
      return { ok: true, response, ms: now() - started, origin: base };
    } catch (e) {
      const kind = controller.signal.aborted ? "timeout" : "network";
      return { ok: false, kind, message: e instanceof Error ? e.message : String(e), ms: now() - started };
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async fetch(req, extra = {}) {
      const idempotent = req.method === "GET" || req.method === "HEAD";
      const candidates = idempotent ? order() : order().slice(0, 1);
      let last: OriginResult | undefined;
      for (const [i, base] of candidates.entries()) {
        const result = await attempt(base, req, extra);
        const s = state.get(base)!;
        if (!result.ok) {
          s.downUntil = now() + cooldownMs;
        } else if (result.response.status >= 500) {
          if (++s.fails5xx >= UNHEALTHY_AFTER_5XX) {
            s.downUntil = now() + cooldownMs;
            s.fails5xx = 0;
          }
        } else {
          s.fails5xx = 0;
          return result;
        }
        if (i < candidates.length - 1 && result.ok) await result.response.body?.cancel();
        last = result;
      }
      return last!;
    },
    allDown() {
      const t = now();
      return bases.every((b) => state.get(b)!.downUntil > t);
    },
    health() {
      const t = now();
      return Object.fromEntries(bases.map((b) => [b || "(request URL)", { down: state.get(b)!.downUntil > t, failures: state.get(b)!.fails5xx }]));
    },
  };
}
