/**
 * Talking to the origin (I/O): build the forwarded request, fetch it with a timeout.
 *
 * Three ways to reach the origin, in order: a service binding `ORIGIN` (the demo origin in
 * `npm start`, or another Worker), a configured `originUrl`, or the request's own URL
 * (a Worker on a route in front of the origin: Cloudflare sends same-zone subrequests to origin).
 */

/** Headers that describe one hop (RFC 9110 §7.6.1) or that we set ourselves. */
const NOT_FORWARDED = [
  "connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer", "transfer-encoding",
  "upgrade", "host", "cookie",
];

/** Headers stripped from cacheable requests: the cache fills with a full, unconditional response. */
const CONDITIONAL = ["if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range"];

export interface OriginTarget {
  /** Service binding to the origin, if configured. */
  fetcher?: Fetcher | undefined;
  /** Base URL ("" = the request's own scheme and host). */
  baseUrl: string;
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
  forwardedHeaders: boolean;
  clientIp: string | null;
  body: ReadableStream | null;
}

/** The URL to fetch: base URL (with its path prefix) + path and query, or the public URL's origin. */
export function originUrl(target: OriginTarget, publicUrl: URL, pathAndQuery: string): string {
  if (target.baseUrl === "") return `${publicUrl.protocol}//${publicUrl.host}${pathAndQuery}`;
  const base = target.baseUrl.endsWith("/") ? target.baseUrl.slice(0, -1) : target.baseUrl;
  return `${base}${pathAndQuery}`;
}

/** Build the request the origin receives from the client's request. */
export function buildOriginRequest(target: OriginTarget, incoming: Headers, opts: ForwardOptions): Request {
  const headers = new Headers(incoming);
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
  return new Request(originUrl(target, opts.publicUrl, opts.pathAndQuery), {
    method: opts.method,
    headers,
    body: hasBody ? opts.body : null,
    // Redirects are the client's business: following one would cache the target under the source's key.
    redirect: "manual",
  });
}

export type OriginResult =
  | { ok: true; response: Response; ms: number }
  | { ok: false; kind: "timeout" | "network"; message: string; ms: number };

/** Fetch with a timeout on the response headers; failures are values, not exceptions. */
export async function fetchOrigin(target: OriginTarget, request: Request, timeoutMs: number, now: () => number): Promise<OriginResult> {
  const started = now();
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("origin timeout")), timeoutMs);
  try {
    const req = new Request(request, { signal: controller.signal });
    const response = target.fetcher ? await target.fetcher.fetch(req) : await fetch(req);
    return { ok: true, response, ms: now() - started };
  } catch (e) {
    const kind = controller.signal.aborted ? "timeout" : "network";
    return { ok: false, kind, message: e instanceof Error ? e.message : String(e), ms: now() - started };
  } finally {
    clearTimeout(timer);
  }
}
