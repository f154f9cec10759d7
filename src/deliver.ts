/**
 * deliver: the single exit. Every response the cache pipeline sends is a Delivery that goes
 * through the same chain of steps (client preconditions, then body processors such as ESI), and is
 * then given the headers every response carries: X-Cache, an RFC 9211 Cache-Status member, Age,
 * Vary, no Server / X-Powered-By, debug and security headers.
 */
import type { Config, SecurityHeaders } from "./config.ts";
import { type CacheStatus, formatCacheStatus } from "./http/cache-status.ts";
import { decideRange, isNotModified, notModifiedHeaders } from "./http/conditional.ts";
import { removeHopByHop } from "./http/hop-by-hop.ts";
import type { CacheKey } from "./key.ts";
import { esiMarked } from "./esi/markup.ts";
import { discard } from "./store/entries.ts";

/**
 * Where the response comes from, which decides what may be evaluated against it: a stored entry
 * (conditionals and Range), a fill being stored (conditionals; a Range is not cut from a body
 * still streaming from the origin: the full 200 is sent, which RFC 9110 §14.2 allows), a response
 * we do not share (neither: it keeps its own headers, a Set-Cookie say), one we made (errors), or
 * a page assembled from ESI fragments (neither: it has no validators and no length of its own).
 */
export type DeliverySource = "stored" | "fill" | "unshared" | "synthetic" | "assembled";

export interface Delivery {
  source: DeliverySource;
  status: number;
  statusText?: string | undefined;
  /**
   * Owned by this delivery (a copy): steps change it in place. Absent while the delivery is
   * `prepared` and nobody needed them: read them through `headersOf`.
   */
  headers?: Headers;
  body: ReadableStream<Uint8Array> | Uint8Array | null;
  cacheStatus: CacheStatus;
  /** Age to send (stored answers); undefined leaves the origin's. */
  age?: number | undefined;
  /** Replace Cache-Control: a string sets it, null removes it, undefined leaves it. */
  cacheControl?: string | null | undefined;
  /** Warning to send (stale answers; RFC 9111 obsoletes it, but clients and tools still read it). */
  warning?: string | undefined;
  key?: CacheKey | undefined;
  tags?: readonly string[] | undefined;
  /** A stored object's client-facing headers, everything but the per-response ones (X-Cache, Cache-Status, Age, Warning, Date): see clientHeaders. */
  prepared?: Prepared | undefined;
}

/** Client-facing headers of a stored object, computed once per object. Never changed once made: copied per response. */
export interface Prepared {
  headers: Headers;
  hasDate: boolean;
  /** The origin marked the object for ESI (Surrogate-Control: content="ESI/1.0", not among `headers`). */
  esi: boolean;
}

/** The delivery's headers, copied from its prepared ones on first use. */
export function headersOf(d: Delivery): Headers {
  return (d.headers ??= new Headers(d.prepared?.headers));
}

/** One step of the chain: returns the delivery to pass on (the same one, changed, or another). */
export type DeliveryStep = (request: Request, d: Delivery) => Delivery | Promise<Delivery>;

/** Apply the chain and our headers; the one place a pipeline response is made. */
export async function deliver(request: Request, d: Delivery, config: Config, steps: readonly DeliveryStep[] = DEFAULT_STEPS): Promise<Response> {
  let out = d;
  for (const step of steps) {
    const next = step(request, out);
    out = next instanceof Promise ? await next : next;
  }
  let body = out.body;
  if (request.method === "HEAD" && body !== null) {
    if (body instanceof ReadableStream) void body.cancel().catch(() => undefined);
    body = null;
  }
  // A stored object nobody changed: a copy of its prepared headers (a native copy, the cheapest way
  // to make a header set) plus the per-response ones.
  const unchanged = out.prepared !== undefined && out.headers === undefined;
  const headers = headersOf(out);
  if (unchanged) {
    for (const [name, value] of responseHeaders(out, out.prepared!.hasDate)) headers.set(name, value);
    return new Response(body, { status: out.status, headers });
  }
  if (!out.prepared) applyStaticHeaders(headers, out, config);
  for (const [name, value] of responseHeaders(out, headers.has("date"), headers.get("cache-status"))) headers.set(name, value);
  return new Response(body, { status: out.status, statusText: out.statusText, headers });
}

/** A plain-text error the worker itself produces (414/431/502/504): never stored, never cached downstream. */
export function synthetic(status: number, message: string, cacheStatus: CacheStatus): Delivery {
  const headers = new Headers({ "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
  return { source: "synthetic", status, headers, body: new TextEncoder().encode(`${message}\n`), cacheStatus };
}

/**
 * RFC 9110 §13.2.2 and §14: a 304 for a matching If-None-Match / If-Modified-Since, a 206 / 416 for
 * a single byte range of a stored entry, the whole 200 otherwise. GET and HEAD on a 200 only.
 */
export const preconditions: DeliveryStep = (request, d) => {
  if (d.status !== 200 || (request.method !== "GET" && request.method !== "HEAD")) return d;
  if (d.source !== "stored" && d.source !== "fill") return d;
  if ((request.headers.has("if-none-match") || request.headers.has("if-modified-since")) && isNotModified(request.headers, headersOf(d))) {
    void discard(d);
    return { ...d, status: 304, statusText: undefined, headers: notModifiedHeaders(headersOf(d)), body: null, prepared: undefined };
  }
  if (!d.prepared) headersOf(d).set("accept-ranges", "bytes");
  if (d.source !== "stored" || request.method !== "GET" || !request.headers.has("range")) return d;
  return range(request, d);
};

/** RFC 9110 §14: a single byte range of a stored entry (206), unsatisfiable (416), or the whole. */
async function range(request: Request, d: Delivery): Promise<Delivery> {
  const bytes = d.body instanceof Uint8Array ? d.body : new Uint8Array(await new Response(d.body).arrayBuffer());
  const h = headersOf(d);
  const decision = decideRange(request.headers, h, bytes.byteLength);
  if (decision.kind === "unsatisfiable") {
    // RFC 9110 §15.5.17: 416 with "Content-Range: bytes */<length>".
    h.set("content-range", `bytes */${bytes.byteLength}`);
    h.delete("content-length");
    return { ...d, status: 416, statusText: undefined, body: null };
  }
  if (decision.kind === "partial") {
    // RFC 9110 §15.3.7: 206 with Content-Range for the single part sent.
    const part = bytes.subarray(decision.start, decision.end + 1);
    h.set("content-range", `bytes ${decision.start}-${decision.end}/${bytes.byteLength}`);
    h.set("content-length", String(part.byteLength));
    return { ...d, status: 206, statusText: undefined, body: part };
  }
  return { ...d, body: bytes };
}

export const DEFAULT_STEPS: readonly DeliveryStep[] = [preconditions];

/** The per-response headers: X-Cache, our Cache-Status member, Age, Warning, Date. */
function responseHeaders(d: Delivery, hasDate: boolean, upstream: string | null = null): [string, string][] {
  // RFC 9211 §2: each cache appends its member; upstream members (closer to the origin) stay first.
  const s = d.cacheStatus;
  let ours = formatCacheStatus(s);
  if (s.upstream) ours = `${s.upstream.member}, ${ours}`;
  // X-Cache lists the shield's first, like Fastly's shielding ("HIT, MISS": the shield had it).
  const out: [string, string][] = [["x-cache", s.upstream ? `${s.upstream.xCache}, ${s.xCache}` : s.xCache], ["cache-status", upstream ? `${upstream}, ${ours}` : ours]];
  if (d.age !== undefined) out.push(["age", String(Math.max(0, Math.floor(d.age)))]);
  if (d.warning) out.push(["warning", d.warning]);
  // RFC 9110 §6.6.1: a recipient with a clock adds Date to a response that lacks one.
  if (!hasDate) out.push(["date", new Date().toUTCString()]);
  return out;
}

/**
 * The part that depends only on the response and its key: computed once per stored object (see
 * clientHeaders), or per response for everything else.
 */
function applyStaticHeaders(h: Headers, d: Pick<Delivery, "cacheControl" | "key" | "tags">, config: Config): void {
  removeHopByHop(h);
  h.delete("server");
  h.delete("x-powered-by");
  if (d.cacheControl === null) h.delete("cache-control");
  else if (d.cacheControl !== undefined) h.set("cache-control", d.cacheControl);
  // RFC 9213 §2.1: Cloudflare-CDN-Cache-Control targets us alone; it is consumed here, not passed on.
  h.delete("cloudflare-cdn-cache-control");
  // Edge Architecture Specification §3: Surrogate-Control is for surrogates; clients never see it.
  h.delete("surrogate-control");
  applySecurityHeaders(h, config.securityHeaders);
  for (const name of config.tagHeaderNames) h.delete(name);
  // The page was chosen by language: say so to browsers and caches downstream (RFC 9110 §12.5.5).
  if (d.key?.language !== undefined) {
    const vary = h.get("vary");
    if (!vary) h.set("vary", "Accept-Language");
    else if (!/(^|,)\s*(accept-language|\*)\s*(,|$)/i.test(vary)) h.set("vary", `${vary}, Accept-Language`);
  }
  if (config.debugHeaders && d.key) {
    h.set("x-edge-key", d.key.key);
    if (d.tags) h.set("x-edge-tags", d.tags.join(","));
  }
}

const preparedFor = new WeakMap<object, Prepared>();

/**
 * The client-facing headers of a stored object, computed once per object (the memory tier hands
 * the same object to every hit): a hit then sends this list plus its per-response headers.
 */
export function clientHeaders(entry: { headers: Headers }, d: Pick<Delivery, "cacheControl" | "key" | "tags">, config: Config): Prepared {
  let p = preparedFor.get(entry);
  if (!p) {
    const h = new Headers(entry.headers);
    const esi = esiMarked(h.get("surrogate-control"));
    applyStaticHeaders(h, d, config);
    h.set("accept-ranges", "bytes");
    // Set per response (responseHeaders): never twice.
    for (const name of ["age", "x-cache", "cache-status", "warning"]) h.delete(name);
    p = { headers: h, hasDate: h.has("date"), esi };
    preparedFor.set(entry, p);
  }
  return p;
}

/** Add configured security headers unless the origin already chose a value. */
export function applySecurityHeaders(headers: Headers, s: SecurityHeaders): void {
  if (s.contentTypeOptions && !headers.has("x-content-type-options")) headers.set("x-content-type-options", "nosniff");
  if (s.frameOptions && !headers.has("x-frame-options")) headers.set("x-frame-options", s.frameOptions);
  if (s.hstsMaxAge > 0 && !headers.has("strict-transport-security")) {
    headers.set("strict-transport-security", `max-age=${s.hstsMaxAge}${s.hstsIncludeSubdomains ? "; includeSubDomains" : ""}`);
  }
}
