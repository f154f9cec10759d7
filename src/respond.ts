/**
 * What every response leaving the worker carries: X-Cache, an RFC 9211 Cache-Status entry,
 * a correct Age, no Server / X-Powered-By, and the configured security headers.
 */
import type { SecurityHeaders } from "./config.ts";

/** The name this cache uses in Cache-Status (RFC 9211 §2: "identifies the cache"). */
export const CACHE_NAME = "edge-cache";

export interface CacheStatus {
  xCache: "HIT" | "MISS" | "BYPASS";
  /** RFC 9211 §2.1: the response was served from cache. */
  hit?: boolean;
  /** RFC 9211 §2.2: why the request went forward. */
  fwd?: "miss" | "bypass" | "stale" | "uri-miss" | "vary-miss" | "request";
  /** RFC 9211 §2.3: the status code the next hop returned. */
  fwdStatus?: number;
  /** RFC 9211 §2.4: the origin's response was stored. */
  stored?: boolean;
  /** RFC 9211 §2.5: freshness left, seconds (negative when stale). */
  ttl?: number;
  /** RFC 9211 §2.7: implementation-specific detail (a token). */
  detail?: string;
}

/** Serialise our Cache-Status member (an RFC 8941 list member). */
export function formatCacheStatus(s: CacheStatus): string {
  let v = CACHE_NAME;
  if (s.hit) v += "; hit";
  if (s.fwd) v += `; fwd=${s.fwd}`;
  if (s.fwdStatus !== undefined) v += `; fwd-status=${s.fwdStatus}`;
  if (s.stored) v += "; stored";
  if (s.ttl !== undefined) v += `; ttl=${Math.round(s.ttl)}`;
  if (s.detail) v += `; detail=${/^[A-Za-z*][A-Za-z0-9:/!#$%&'*+.^_`|~-]*$/.test(s.detail) ? s.detail : JSON.stringify(s.detail)}`;
  return v;
}

export interface FinishOptions {
  status: CacheStatus;
  security: SecurityHeaders;
  /** Age to send (hits); undefined leaves the origin's. */
  age?: number | undefined;
  /** Replace Cache-Control: a string sets it, null removes it, undefined leaves it. */
  cacheControl?: string | null | undefined;
  /** Drop the body (HEAD). */
  headOnly?: boolean;
  /** Headers to set (e.g. Warning on a stale answer). */
  extraHeaders?: Record<string, string>;
}

/** Copy the response with our headers applied (fetch() responses have immutable headers). */
export function finish(res: Response, opts: FinishOptions): Response {
  const headers = new Headers(res.headers);
  headers.delete("server");
  headers.delete("x-powered-by");
  headers.set("x-cache", opts.status.xCache);
  // RFC 9211 §2: each cache appends its member; upstream members (closer to the origin) stay first.
  const upstream = headers.get("cache-status");
  const ours = formatCacheStatus(opts.status);
  headers.set("cache-status", upstream ? `${upstream}, ${ours}` : ours);
  if (opts.age !== undefined) headers.set("age", String(Math.max(0, Math.floor(opts.age))));
  if (opts.cacheControl === null) headers.delete("cache-control");
  else if (opts.cacheControl !== undefined) headers.set("cache-control", opts.cacheControl);
  for (const [k, v] of Object.entries(opts.extraHeaders ?? {})) headers.set(k, v);
  // RFC 9213 §2.1: Cloudflare-CDN-Cache-Control targets us alone; it is consumed here, not passed on.
  headers.delete("cloudflare-cdn-cache-control");
  // RFC 9110 §6.6.1: a recipient with a clock adds Date to a response that lacks one.
  if (!headers.has("date")) headers.set("date", new Date().toUTCString());
  applySecurityHeaders(headers, opts.security);
  let body = res.body;
  if (opts.headOnly && body) {
    void body.cancel().catch(() => undefined);
    body = null;
  }
  return new Response(body, { status: res.status, statusText: res.statusText, headers });
}

/** Add configured security headers unless the origin already chose a value. */
export function applySecurityHeaders(headers: Headers, s: SecurityHeaders): void {
  if (s.contentTypeOptions && !headers.has("x-content-type-options")) headers.set("x-content-type-options", "nosniff");
  if (s.frameOptions && !headers.has("x-frame-options")) headers.set("x-frame-options", s.frameOptions);
  if (s.hstsMaxAge > 0 && !headers.has("strict-transport-security")) {
    headers.set("strict-transport-security", `max-age=${s.hstsMaxAge}${s.hstsIncludeSubdomains ? "; includeSubDomains" : ""}`);
  }
}

/** A plain-text error the worker itself produces (502/504): never stored, never cached downstream. */
export function errorResponse(status: number, message: string): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}
