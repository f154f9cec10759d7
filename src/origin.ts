/**
 * Talking to the origin (I/O): build the forwarded request, fetch it with a timeout, fail over.
 *
 * Ways to reach the origin, in order: a service binding `ORIGIN` (the demo origin in `npm start`,
 * or another Worker), the configured origin URLs (primary first, then fallbacks), or the
 * request's own URL (a Worker on a route in front of its origin: same-zone subrequests go there).
 *
 * Health (per isolate, like a Varnish probe without the probe): an origin that fails to answer
 * (network error, timeout) is skipped for `cooldownMs`; so is one that answers 5xx three times in
 * a row. Idempotent requests (GET/HEAD) move on to the next origin; others get one attempt.
 */

/** Headers that describe one hop (RFC 9110 §7.6.1) or that we set ourselves. */
const NOT_FORWARDED = [
  "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding",
  "upgrade", "host", "cookie",
];

/** Headers stripped from cacheable requests: the cache fills with a full, unconditional response. */
const CONDITIONAL = ["if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range", "cache-control", "pragma"];

/** Consecutive 5xx answers that mark an origin unhealthy. */
export const UNHEALTHY_AFTER_5XX = 3;

export interface OriginTarget {
  /** Service binding to the origin, if configured. */
  fetcher?: Fetcher | undefined;
  /** Base URLs in order of preference (empty: the request's own scheme and host). */
  baseUrls: readonly string[];
}

export interface ForwardOptions {
  /** The public URL the client asked for (scheme/host for X-Forwarded-*, and for route mode). */
  publicUrl: URL;
  /** Path and query to ask the origin for ("/blog/x/?a=1"). */
  pathAndQuery: string;
  method: string;
  /** Cookie header after analytics cookies were removed (null: send none). */
  cookie: string | null;
  /** Folded language to send as Accept-Language (cacheable requests with languages configured). */
  language?: string | undefined;
  /** Cacheable request: drop conditionals/Range and any body so the origin returns a full, storable response. */
  cacheable: boolean;
  /** Lower-case names of client headers never forwarded (poisoning vectors). */
  strip: readonly string[];
  /** Cacheable requests: the only client headers forwarded (lower case). */
  allow?: ReadonlySet<string>;
  forwardedHeaders: boolean;
  clientIp: string | null;
  body: ReadableStream | null;
}

/** What to send, independent of which origin it goes to. */
export interface OriginRequest {
  method: string;
  pathAndQuery: string;
  publicUrl: URL;
  headers: Headers;
  body: ReadableStream | null;
}

/** The URL to fetch: base URL (with its path prefix) + path and query, or the public URL's origin. */
export function originUrl(base: string, publicUrl: URL, pathAndQuery: string): string {
  if (base === "") return `${publicUrl.protocol}//${publicUrl.host}${pathAndQuery}`;
  return `${base.endsWith("/") ? base.slice(0, -1) : base}${pathAndQuery}`;
}

/** Build what the origin receives from the client's request. */
export function buildOriginRequest(incoming: Headers, opts: ForwardOptions): OriginRequest {
  let headers: Headers;
  if (opts.allow) {
    headers = new Headers();
    incoming.forEach((value, name) => { if (opts.allow!.has(name)) headers.set(name, value); });
  } else {
    headers = new Headers(incoming);
  }
  for (const name of NOT_FORWARDED) headers.delete(name);
  for (const name of opts.strip) headers.delete(name);
  if (opts.cacheable) for (const name of CONDITIONAL) headers.delete(name);
  if (opts.cookie !== null) headers.set("cookie", opts.cookie);
  if (opts.language !== undefined) headers.set("accept-language", opts.language);
  if (opts.forwardedHeaders) {
    headers.set("x-forwarded-host", opts.publicUrl.host);
    headers.set("x-forwarded-proto", opts.publicUrl.protocol.slice(0, -1));
    if (opts.clientIp) headers.set("x-forwarded-for", opts.clientIp);
  }
  // A body on GET/HEAD ("fat GET") is never forwarded: it is not part of the key.
  const hasBody = opts.method !== "GET" && opts.method !== "HEAD";
  return { method: opts.method, pathAndQuery: opts.pathAndQuery, publicUrl: opts.publicUrl, headers, body: hasBody ? opts.body : null };
}

export type OriginResult =
  | { ok: true; response: Response; ms: number; origin: string }
  | { ok: false; kind: "timeout" | "network"; message: string; ms: number };

export interface OriginClient {
  fetch(req: OriginRequest, extraHeaders?: Record<string, string>): Promise<OriginResult>;
  /** Health as seen by this isolate (for explain / logs). */
  health(): Record<string, { down: boolean; failures: number }>;
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
    const request = new Request(originUrl(target.fetcher ? "" : base, req.publicUrl, req.pathAndQuery), {
      method: req.method,
      headers,
      body: req.body,
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
    health() {
      const t = now();
      return Object.fromEntries(bases.map((b) => [b || "(request URL)", { down: state.get(b)!.downUntil > t, failures: state.get(b)!.fails5xx }]));
    },
  };
}
